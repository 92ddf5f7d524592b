import { AgeKeyError, ArchiveKeys } from '../../archive/age-keys.js';
import { invalid } from '../../platform/domain-errors.js';

/**
 * The identity or passphrase a request gives for an encrypted archive, checked (400 naming the
 * field, never quoting it) and held so it can be overwritten once the request or the job is done.
 */
export async function keysOf(given: { identity?: string; passphrase?: string }): Promise<ArchiveKeys | null> {
  try {
    return await ArchiveKeys.of(given);
  } catch (error) {
    if (error instanceof AgeKeyError) throw invalid(error.message);
    throw error;
  }
}
