import { describe, expect, it } from 'vitest';
import { copyRetryDecision } from '../../src/backup/create/copy-retry.js';
import { IntegrityError, LockedError, RepositoryStoreError } from '../../src/infrastructure/repository-store/repository-store.port.js';

const policy = { attempts: 4, delayMs: 1000, maxDelayMs: 3000 };
const full = () => 1;

describe('copyRetryDecision', () => {
  it('tries again after failures that may pass, doubling the wait up to the cap', () => {
    for (const reason of ['network', 'throttled', 'unavailable'] as const) {
      const error = new RepositoryStoreError(reason, 'x');
      expect(copyRetryDecision(error, 1, policy, full)).toEqual({ retry: true, delayMs: 1000 });
      expect(copyRetryDecision(error, 2, policy, full)).toEqual({ retry: true, delayMs: 2000 });
      expect(copyRetryDecision(error, 3, policy, full)).toEqual({ retry: true, delayMs: 3000 });
    }
    // Bytes that arrived damaged usually arrive whole when sent again.
    expect(copyRetryDecision(new IntegrityError('k', 'differs'), 1, policy, full)).toEqual({ retry: true, delayMs: 1000 });
  });

  it('spreads the waits between half and all of the delay', () => {
    const error = new RepositoryStoreError('throttled', 'x');
    expect(copyRetryDecision(error, 2, policy, () => 0)).toEqual({ retry: true, delayMs: 1000 });
    expect(copyRetryDecision(error, 2, policy, () => 0.5)).toEqual({ retry: true, delayMs: 1500 });
  });

  it('gives up after the last try', () => {
    expect(copyRetryDecision(new RepositoryStoreError('unavailable', 'x'), 4, policy, full)).toEqual({ retry: false, why: 'gave up after 4 tries' });
    expect(copyRetryDecision(new RepositoryStoreError('unavailable', 'x'), 1, { ...policy, attempts: 1 }, full)).toEqual({ retry: false, why: 'gave up after 1 try' });
  });

  it('never tries a refusal again: trying would only delay the error a person must act on', () => {
    for (const reason of ['credentials', 'permission', 'no-bucket', 'full', 'refused', 'unsupported', 'config', 'clock', 'tls'] as const) {
      const decision = copyRetryDecision(new RepositoryStoreError(reason, 'x'), 1, policy, full);
      expect(decision, reason).toEqual({ retry: false, why: `the repository refuses (${reason}); trying again would not help` });
    }
    expect(copyRetryDecision(new LockedError('k', new Date(), 'COMPLIANCE'), 1, policy, full).retry).toBe(false);
    // A failure that is not the repository's (the local archive unreadable) is not the repository's to retry.
    expect(copyRetryDecision(new Error('EIO'), 1, policy, full)).toEqual({ retry: false, why: 'not a failure of the repository' });
  });
});
