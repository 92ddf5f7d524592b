import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobTooLargeError, type PutResult } from './blob-store.port.js';

/**
 * Sits between the source and the adapter's sink so size, SHA-256 and the size limit are the same
 * for every adapter, computed in the one pass the bytes make anyway (no second read to hash).
 * It fails on the first chunk that crosses the limit, so an oversized upload is not read further.
 */
export class BlobMeter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  constructor(
    private readonly key: string,
    private readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {
    super();
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.bytes += buffer.length;
    if (this.bytes > this.maxBytes) {
      callback(new BlobTooLargeError(this.key, this.maxBytes));
      return;
    }
    this.hash.update(buffer);
    callback(null, buffer);
  }

  /** Only meaningful once the stream has finished. */
  result(): PutResult {
    return { size: this.bytes, sha256: this.hash.copy().digest('hex') };
  }
}
