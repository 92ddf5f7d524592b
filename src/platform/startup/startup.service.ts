import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../domain-errors.js';

export type StartupState = 'starting' | 'ready' | 'failed';

/**
 * The server listens at once; what has to happen before it can answer requests correctly
 * (cleaning up after a crash, projections catching up, the first admin) runs here in the
 * background. Health reports the state, and requests wait for it (see StartupGuard).
 */
@Injectable()
export class StartupService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Startup');
  private current: StartupState = 'starting';
  private failure?: Error;
  private stopping = false;
  private readonly settled: Promise<void>;
  private settle!: () => void;

  constructor() {
    this.settled = new Promise<void>((resolve) => (this.settle = resolve));
  }

  get state(): StartupState {
    return this.current;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /** Runs the start-up work in the background; call once. */
  run(work: () => Promise<void>): void {
    const started = Date.now();
    work().then(
      () => {
        this.current = 'ready';
        this.logger.log(`Ready in ${Date.now() - started} ms`);
        this.settle();
      },
      (error: unknown) => {
        this.failure = error instanceof Error ? error : new Error(String(error));
        this.current = 'failed';
        // Stopping mid-start closes the stores under the start-up work; that is no failure to report.
        if (this.stopping) this.logger.debug(`Start-up stopped by the shutdown: ${this.failure.message}`);
        else this.logger.error(`Start-up failed: ${this.failure.message}`, this.failure.stack);
        this.settle();
      },
    );
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  /** Resolves once start-up has finished, well or not (main.ts exits on failure). */
  whenSettled(): Promise<void> {
    return this.settled;
  }

  /** Resolves when ready; a 503 DomainError when start-up failed or does not finish in time. */
  async whenReady(timeoutMs: number): Promise<void> {
    if (this.current === 'starting') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    if (this.current === 'ready') return;
    if (this.current === 'failed') throw new DomainError('unavailable', `The server could not start (${this.failure?.message ?? 'unknown error'}); see its log`);
    throw new DomainError('unavailable', 'The server is starting: projections are catching up with the event store. Try again shortly (GET /health shows the progress)');
  }
}
