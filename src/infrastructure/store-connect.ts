import { Logger } from '@nestjs/common';

/** A store that did not answer within the start-up time; main.ts exits with code 78 and this message. */
export class StoreUnreachableError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
    timeoutMs: number,
  ) {
    super(`${variable} names a server that did not answer within ${timeoutMs} ms (STORE_CONNECT_TIMEOUT_MS): ${detail}. Check the URL, the credentials and that the server runs.`);
    this.name = 'StoreUnreachableError';
  }
}

const logger = new Logger('Stores');

/**
 * Connects with retries: in a compose stack or a cluster the databases often come up after the
 * application. Waits 0.5 s, 1 s, 2 s… (at most 10 s) between tries, until `timeoutMs` has passed.
 */
export async function connectWithRetry<T>(variable: string, timeoutMs: number, connect: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1, wait = 500; ; attempt++, wait = Math.min(wait * 2, 10_000)) {
    try {
      return await connect();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      if (Date.now() + wait > deadline) throw new StoreUnreachableError(variable, detail, timeoutMs);
      logger.warn(`${variable}: not reachable yet (${detail}); trying again in ${wait} ms (attempt ${attempt})`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
