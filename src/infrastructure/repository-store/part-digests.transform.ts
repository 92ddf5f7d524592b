import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from './repository-store.port.js';

export interface PartDigest {
  md5: Buffer;
  sha256: Buffer;
}

/**
 * MD5 and SHA-256 of each multipart part, computed as the bytes pass on their way to the uploader,
 * which cuts parts at exactly the same boundaries (every `partSize` bytes; an object of at most one
 * part goes in a single PutObject, whose "part 1" is then the whole object). The uploader sends a
 * part only after its last byte went through here, so its digest is ready when the request is
 * built: it goes out as Content-MD5 and x-amz-checksum-sha256 (the store refuses a part that
 * differs) and as the signed payload hash, so no byte is hashed twice for one purpose.
 * Once the upload is complete, the digests give the ETag and the checksum the store should report.
 *
 * It also hashes the whole object, and when the caller said which SHA-256 the bytes must have, a
 * difference fails the stream at its end, before the uploader completes anything.
 */
export class PartDigests extends Transform {
  private readonly parts: PartDigest[] = [];
  private md5: Hash = createHash('md5');
  private sha256: Hash = createHash('sha256');
  private readonly whole: Hash = createHash('sha256');
  private inPart = 0;
  private bytes = 0;
  private wholeDigest: string | undefined;

  constructor(
    private readonly key: string,
    private readonly partSize: number,
    private readonly expectedSha256?: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this.whole.update(buffer);
    this.bytes += buffer.length;
    let offset = 0;
    while (offset < buffer.length) {
      const take = Math.min(this.partSize - this.inPart, buffer.length - offset);
      const slice = buffer.subarray(offset, offset + take);
      this.md5.update(slice);
      this.sha256.update(slice);
      this.inPart += take;
      offset += take;
      if (this.inPart === this.partSize) this.closePart();
    }
    callback(null, buffer);
  }

  override _flush(callback: TransformCallback): void {
    // The last, shorter part; or the only one of an empty object.
    if (this.inPart > 0 || this.parts.length === 0) this.closePart();
    this.wholeDigest = this.whole.digest('hex');
    if (this.expectedSha256 !== undefined && this.expectedSha256.toLowerCase() !== this.wholeDigest) {
      callback(new IntegrityError(this.key, `the bytes have SHA-256 ${this.wholeDigest}, the caller expected ${this.expectedSha256}`));
      return;
    }
    callback();
  }

  /** Size and SHA-256 (hex) of the whole object; only once the stream has ended. */
  result(): { size: number; sha256: string } {
    if (this.wholeDigest === undefined) throw new Error('PartDigests.result() before the end of the stream');
    return { size: this.bytes, sha256: this.wholeDigest };
  }

  /** The digests of part `partNumber` (1-based), once all its bytes went through. */
  part(partNumber: number): PartDigest | undefined {
    return this.parts[partNumber - 1];
  }

  get count(): number {
    return this.parts.length;
  }

  /** The ETag S3 gives the object when its parts were sent as here: the MD5, or `md5(part MD5s)-N`. */
  expectedEtag(): string {
    if (this.parts.length === 1) return this.parts[0]!.md5.toString('hex');
    return `${createHash('md5')
      .update(Buffer.concat(this.parts.map((p) => p.md5)))
      .digest('hex')}-${this.parts.length}`;
  }

  /** The composite x-amz-checksum-sha256 of a multipart object: `base64(sha256(part SHA-256s))-N`. */
  expectedCompositeSha256(): string {
    if (this.parts.length === 1) return this.parts[0]!.sha256.toString('base64');
    return `${createHash('sha256')
      .update(Buffer.concat(this.parts.map((p) => p.sha256)))
      .digest('base64')}-${this.parts.length}`;
  }

  private closePart(): void {
    this.parts.push({ md5: this.md5.digest(), sha256: this.sha256.digest() });
    this.md5 = createHash('md5');
    this.sha256 = createHash('sha256');
    this.inPart = 0;
  }
}
