import type { Readable } from 'node:stream';
import {
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type PutObjectCommandInput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { PartDigest } from './part-digests.transform.js';
import { RepositoryStoreError } from './repository-store.port.js';

/** S3 takes at most this many parts in one multipart upload. */
export const MAX_PARTS = 10_000;

const MiB = 1024 * 1024;

/**
 * The part size for an object of `sizeBytes` (when known): the repository's, or where S3's
 * 10,000 parts of that size cannot hold it, the least whole number of MiB that can.
 */
export function partSizeFor(configured: number, sizeBytes: number | undefined): number {
  if (sizeBytes === undefined || sizeBytes <= configured * MAX_PARTS) return configured;
  return Math.ceil(sizeBytes / MAX_PARTS / MiB) * MiB;
}

/** What every request of one upload carries: where the object goes and how it is stored. */
export type PartUploadParams = Pick<
  PutObjectCommandInput,
  'Bucket' | 'Key' | 'ContentType' | 'StorageClass' | 'Metadata' | 'ChecksumAlgorithm' | 'ObjectLockMode' | 'ObjectLockRetainUntilDate'
> & { Bucket: string; Key: string };

export interface PartUploaderOptions {
  /** Bytes per part (S3: at least 5 MiB but for the last part). */
  partSize: number;
  /** Parts sent at once. */
  queueSize: number;
  /** The digests of part `partNumber` (1-based), ready once its last byte has been read from the source. */
  digest: (partNumber: number) => PartDigest | undefined;
}

/**
 * Streams a source to one S3 object: a single PutObject when it fits in one part, a multipart
 * upload otherwise, every request with its part's Content-MD5 and x-amz-checksum-sha256.
 *
 * Memory: the bytes are copied into a pool of `max(2, queueSize)` buffers of `partSize` bytes,
 * allocated once per upload and reused part after part. A part is sent as a Buffer, so the SDK's
 * retries resend it; its buffer is filled again only once the store has answered for it. With
 * `queueSize` parts in flight, reading waits for the first to finish, then fills its buffer while
 * the others are still being sent: the store stays busy (filling from a local file takes a small
 * fraction of a part's request), and a fast source never gets ahead of the store. A third buffer,
 * to fill while both parts are in flight, cost 5 to 8 MB more at the peak of a 1 GiB upload and
 * made it no faster against radosgw.
 *
 * Why not lib-storage's Upload: it copies every part into a new Buffer (Buffer.concat of the
 * chunks read). Those buffers live as long as their request, long enough to be promoted to V8's
 * old generation, and V8 frees them only at a full collection, which external memory triggers
 * when it has grown by 64 MB: a 1 GiB upload through it grew the process by 80 to 100 MB, against
 * about 46 MB here (docs/performance.md).
 *
 * On failure the error is thrown once no request of the upload is still running, so the caller can
 * abort the multipart upload (`uploadId`) knowing no part arrives after the abort. The source is
 * left as it is (not destroyed): the caller reads its error, then destroys it.
 */
export class S3PartUploader {
  /** Set once the multipart upload exists: what to abort when the upload fails. */
  uploadId: string | undefined;
  private created: Promise<string> | undefined;
  private readonly free: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private failure: { error: unknown } | undefined;
  /** The pool's size, and how many of its buffers exist so far (a small object needs one). */
  private readonly buffers: number;
  private made = 0;

  constructor(
    private readonly client: S3Client,
    private readonly params: PartUploadParams,
    private readonly options: PartUploaderOptions,
  ) {
    this.buffers = Math.max(2, options.queueSize);
  }

  /** Uploads what `source` yields (Buffers) and resolves with the version written, once the store has the whole object. */
  async upload(source: Readable): Promise<{ versionId: string | undefined }> {
    const { partSize } = this.options;
    let buffer = await this.take();
    let filled = 0;
    let sent = 0;
    try {
      // Not destroyed when this stops early: the caller reads the source's own error first.
      for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        let offset = 0;
        while (offset < chunk.length) {
          if (filled === partSize) {
            // A full part with bytes after it: not the last, so it goes now.
            sent += 1;
            if (sent >= MAX_PARTS) throw tooManyParts(partSize);
            await this.send(buffer, filled, sent);
            buffer = await this.take();
            filled = 0;
          }
          const copied = chunk.copy(buffer, filled, offset, offset + Math.min(chunk.length - offset, partSize - filled));
          filled += copied;
          offset += copied;
        }
        this.throwIfFailed();
      }
      if (sent === 0) return await this.putWhole(buffer.subarray(0, filled));
      await this.send(buffer, filled, sent + 1);
      await Promise.all(this.inFlight);
      this.throwIfFailed();
      this.parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      const output = await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.params.Bucket, Key: this.params.Key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
      );
      return { versionId: output.VersionId };
    } finally {
      // Whatever happened, no request of this upload outlives it (an abort must come after the last part).
      await Promise.allSettled(this.inFlight);
      this.free.length = 0;
    }
  }

  /** A buffer to fill: a free one, a new one while fewer than the pool's size exist, else the next one a request gives back. */
  private async take(): Promise<Buffer> {
    for (;;) {
      const buffer = this.free.pop();
      if (buffer) return buffer;
      if (this.made < this.buffers) {
        this.made += 1;
        return Buffer.allocUnsafeSlow(this.options.partSize);
      }
      // Every buffer is in a request (a failed one keeps its buffer, but then this throws first).
      this.throwIfFailed();
      await Promise.race(this.inFlight);
    }
  }

  /** Starts sending part `partNumber` once fewer than `queueSize` parts are in flight; does not wait for the store's answer. */
  private async send(buffer: Buffer, length: number, partNumber: number): Promise<void> {
    while (this.inFlight.size >= this.options.queueSize) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
    const request: Promise<void> = this.uploadPart(buffer.subarray(0, length), partNumber).then(
      () => {
        this.inFlight.delete(request);
        this.free.push(buffer);
      },
      (error: unknown) => {
        this.inFlight.delete(request);
        this.failure ??= { error };
      },
    );
    this.inFlight.add(request);
  }

  private async uploadPart(body: Buffer, partNumber: number): Promise<void> {
    const digest = this.digestOf(partNumber);
    const uploadId = await this.multipartUpload();
    const output = await this.client.send(
      new UploadPartCommand({
        Bucket: this.params.Bucket,
        Key: this.params.Key,
        ChecksumAlgorithm: this.params.ChecksumAlgorithm,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentMD5: digest.md5.toString('base64'),
        ChecksumSHA256: digest.sha256.toString('base64'),
      }),
    );
    if (!output.ETag) throw new RepositoryStoreError('unavailable', `The store answered part ${partNumber} of ${JSON.stringify(this.params.Key)} without an ETag`);
    this.parts.push({ PartNumber: partNumber, ETag: output.ETag, ...(output.ChecksumSHA256 && { ChecksumSHA256: output.ChecksumSHA256 }) });
  }

  private multipartUpload(): Promise<string> {
    this.created ??= this.client.send(new CreateMultipartUploadCommand(this.params)).then((output) => {
      if (!output.UploadId) throw new RepositoryStoreError('unavailable', `The store started a multipart upload of ${JSON.stringify(this.params.Key)} without an upload id`);
      this.uploadId = output.UploadId;
      return output.UploadId;
    });
    return this.created;
  }

  private async putWhole(body: Buffer): Promise<{ versionId: string | undefined }> {
    const digest = this.digestOf(1);
    const output = await this.client.send(
      new PutObjectCommand({ ...this.params, Body: body, ContentMD5: digest.md5.toString('base64'), ChecksumSHA256: digest.sha256.toString('base64') }),
    );
    return { versionId: output.VersionId };
  }

  private digestOf(partNumber: number): PartDigest {
    const digest = this.options.digest(partNumber);
    if (!digest) throw new Error(`No digest for part ${partNumber}: the digests and the uploader cut parts differently`);
    return digest;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

function tooManyParts(partSize: number): RepositoryStoreError {
  const most = (partSize * MAX_PARTS) / 1024 ** 3;
  return new RepositoryStoreError(
    'config',
    `The object is larger than S3's ${MAX_PARTS} parts of ${partSize} bytes allow (${most.toFixed(1)} GiB); a put told the object's size (sizeBytes) uses parts large enough`,
  );
}
