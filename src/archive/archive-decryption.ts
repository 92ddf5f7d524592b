import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveKeys } from './age-keys.js';
import { AGE_MAGIC, AgeDecryptionError, ageDecryptor } from './age-stream.js';
import { InvalidArchiveError } from './archive-reader.js';

/** An encrypted archive that could not be opened: no key, a wrong key, damaged or cut short. Nothing was written from it. */
export class EncryptedArchiveError extends InvalidArchiveError {
  constructor(
    readonly reason: AgeDecryptionError['reason'] | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'EncryptedArchiveError';
  }
}

/** Whether the file starts as an age file does (`age-encryption.org/v1`). */
export async function isAgeFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(AGE_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.toString('latin1') === AGE_MAGIC;
  } finally {
    await handle.close();
  }
}

/** Fails the pipeline once more than `max` bytes have passed, saying which side (`what`) was too large. */
function limit(max: number, what: string): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > max) callback(new EncryptedArchiveError('too-large', `The ${what} is larger than the ${max} bytes a restore accepts (MAX_RESTORE_BYTES)`));
      else callback(null, chunk);
    },
  });
}

/**
 * Decrypts the age file `source` into `target` (created with mode 0600), counting both sides
 * against their limits. Every chunk is authenticated before it is written, and a failure of any
 * kind (no key, a wrong key, a changed byte, a file cut short, a limit) removes `target`, so
 * nothing decrypted from a bad file is ever read. Throws EncryptedArchiveError with words a
 * person can act on.
 */
export async function decryptArchiveFile(
  source: string,
  target: string,
  keys: ArchiveKeys | null,
  limits: { maxCiphertextBytes: number; maxPlaintextBytes: number },
): Promise<{ bytes: number }> {
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(source),
      limit(limits.maxCiphertextBytes, 'encrypted archive'),
      ageDecryptor(keys ?? ArchiveKeys.ofIdentities([])),
      limit(limits.maxPlaintextBytes, 'decrypted archive'),
      count,
      createWriteStream(target, { mode: 0o600 }),
    );
  } catch (error) {
    await rm(target, { force: true });
    if (error instanceof EncryptedArchiveError) throw error;
    if (error instanceof AgeDecryptionError) throw new EncryptedArchiveError(error.reason, error.message);
    throw error;
  }
  return { bytes };
}
