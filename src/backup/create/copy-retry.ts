import { RepositoryStoreError } from '../../infrastructure/repository-store/repository-store.port.js';

/** How a failed copy is tried again: COPY_ATTEMPTS, COPY_RETRY_DELAY_MS, COPY_RETRY_MAX_DELAY_MS. */
export interface CopyRetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; each later wait doubles, up to `maxDelayMs`. */
  delayMs: number;
  maxDelayMs: number;
}

export type CopyRetryDecision = { retry: true; delayMs: number } | { retry: false; why: string };

/**
 * Whether a copy that failed with `error` on try `attempt` (1 for the first) is tried again, and
 * after how long. Only failures that may pass are: the repository down or unreachable, throttling
 * (503 SlowDown), a cut connection (the store adapters' `transient`), and bytes that arrived
 * damaged (`integrity`: sent again, they usually arrive whole). A refusal stays a refusal (bad
 * credentials, no permission, no such bucket, a full disk, an append-only folder, a lock the
 * repository cannot set): trying again only delays the error a person must act on.
 *
 * `random` spreads the waits (0.5 to 1 times the delay) so copies that failed together do not
 * come back together; tests pass a fixed one.
 */
export function copyRetryDecision(error: unknown, attempt: number, policy: CopyRetryPolicy, random: () => number = Math.random): CopyRetryDecision {
  if (attempt >= policy.attempts) return { retry: false, why: `gave up after ${policy.attempts} ${policy.attempts === 1 ? 'try' : 'tries'}` };
  if (!(error instanceof RepositoryStoreError)) return { retry: false, why: 'not a failure of the repository' };
  if (!error.transient && error.reason !== 'integrity') return { retry: false, why: `the repository refuses (${error.reason}); trying again would not help` };
  const full = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.round(full * (0.5 + 0.5 * Math.min(1, Math.max(0, random())))) };
}
