import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertBlobKey, isValidBlobKey, normalizeBlobPrefix } from '../blob-store/blob-store.port.js';
import { PartDigests } from './part-digests.transform.js';
import {
  type ByteRange,
  IntegrityError,
  type ListOptions,
  LockedError,
  type LockMode,
  type ProbeResult,
  type ProbeStep,
  type RepositoryCapabilities,
  type RepositoryListing,
  type RepositoryObjectInfo,
  type RepositoryPutOptions,
  type RepositoryPutResult,
  type RepositoryStore,
  RepositoryStoreError,
  type Verification,
} from './repository-store.port.js';
import { type S3Doing, s3ErrorCode, s3Failure, s3Status } from './s3-failure.js';
import { partSizeFor, S3PartUploader } from './s3-part-uploader.js';
import type { S3Credentials, S3RepositoryConfig } from './s3-repository-config.js';

/** The probe's objects: a dot segment, which no repository key can have, so no listing shows them. */
const PROBE_PREFIX = '.appvault-probe/';
/** A clock this far from the store's is reported: Object Lock dates and sweeps count from it. */
const CLOCK_TOLERANCE_MS = 60_000;
const CLOCK_NOISE_MS = 2_000;
/** A key rewritten this often is a bug or an attack on the loop, not a history worth walking. */
const MAX_VERSIONS_DELETED = 100;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

interface Lock {
  mode: LockMode;
  until: Date;
}

/**
 * A backup repository in an S3-compatible bucket, through the AWS SDK v3.
 *
 * Uploads go through S3PartUploader (a single PutObject up to one part, multipart beyond; parts are
 * Buffers, so the SDK's retry strategy resends a failed part; memory is `queueSize + 1` part
 * buffers, reused). Each part carries Content-MD5 and x-amz-checksum-sha256 of its bytes, computed
 * by PartDigests as they stream past; a failed upload is
 * aborted, so it leaves no multipart upload behind (what a killed process leaves, `sweepStaleUploads`
 * removes). A put then checks the store's copy: its size, and the store's SHA-256 checksum where it
 * keeps one (AWS), else its ETag against the MD5s sent (servers that ignore x-amz-checksum-*, like
 * Ceph's radosgw), else a read-back hash. A requested lock is read back too, and set on the version
 * afterwards when the store ignored it on the upload (radosgw 16 does, for multipart uploads).
 *
 * The client computes checksums only where an operation requires one (`WHEN_REQUIRED`): radosgw
 * refuses the SDK's default aws-chunked uploads, and our own digests cover every upload anyway.
 */
export class S3RepositoryStore implements RepositoryStore {
  readonly kind = 's3' as const;
  readonly capabilities: RepositoryCapabilities = { objectLock: true, appendOnly: false, presign: true };
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly config: S3RepositoryConfig,
    /** Undefined: the SDK's default chain (AWS_* variables, a shared profile, an instance or pod role). */
    credentials: S3Credentials | undefined,
  ) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.location = `s3://${config.bucket}/${config.prefix} at ${config.endpoint ?? `AWS ${config.region}`}`;
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      ...(credentials ? { credentials: { ...credentials } } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: config.maxAttempts,
      retryMode: 'standard',
      requestHandler: {
        connectionTimeout: config.connectionTimeoutMs,
        socketTimeout: config.socketTimeoutMs,
        httpAgent: { keepAlive: true, maxSockets: 32 },
        httpsAgent: { keepAlive: true, maxSockets: 32 },
      },
    });
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        const checksum = request.headers?.['x-amz-checksum-sha256'];
        if (checksum && request.headers && (context.commandName === 'UploadPartCommand' || context.commandName === 'PutObjectCommand')) {
          // The signature's payload hash: the part's SHA-256 we send anyway, so the signer does not hash the part again.
          request.headers['x-amz-content-sha256'] = Buffer.from(checksum, 'base64').toString('hex');
        }
        return next(args);
      },
      { step: 'build', priority: 'high', name: 'appvaultPayloadHash' },
    );
  }

  async put(key: string, source: Readable, options: RepositoryPutOptions = {}): Promise<RepositoryPutResult> {
    let lock: Lock | undefined;
    try {
      assertBlobKey(key);
      lock = this.lockFor(options);
      if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) {
        throw new RepositoryStoreError('config', `The expected SHA-256 of ${JSON.stringify(key)} must be 64 hex digits`);
      }
      if (options.sizeBytes !== undefined && !(Number.isSafeInteger(options.sizeBytes) && options.sizeBytes >= 0)) {
        throw new RepositoryStoreError('config', `The size given for ${JSON.stringify(key)} must be a whole number of bytes, not ${options.sizeBytes}`);
      }
    } catch (error) {
      source.destroy();
      throw error;
    }
    const objectKey = this.prefix + key;
    const doing = this.doing(`write ${JSON.stringify(key)}`, 's3:PutObject', key);
    const partSize = partSizeFor(this.config.partSizeBytes, options.sizeBytes);
    const digests = new PartDigests(key, partSize, options.sha256);
    let sourceError: unknown;
    pipeline(source, digests).catch((error: unknown) => {
      sourceError ??= error;
    });
    const uploader = new S3PartUploader(
      this.client,
      {
        Bucket: this.bucket,
        Key: objectKey,
        ContentType: options.contentType ?? 'application/octet-stream',
        // The SDK's type lists AWS's classes; other stores have their own names, passed on as they are.
        StorageClass: (options.storageClass ?? this.config.storageClass) as StorageClass | undefined,
        Metadata: options.sha256 ? { sha256: options.sha256.toLowerCase() } : undefined,
        ChecksumAlgorithm: 'SHA256',
        ObjectLockMode: lock?.mode,
        ObjectLockRetainUntilDate: lock?.until,
      },
      { partSize, queueSize: this.config.queueSize, digest: (partNumber) => digests.part(partNumber) },
    );
    let versionId: string | undefined;
    try {
      versionId = (await uploader.upload(digests)).versionId;
    } catch (error) {
      // The source's own error (or the digests' IntegrityError) as it is; the store's in words.
      // Read before the streams are destroyed here, which makes the pipeline fail on its own account.
      const fromSource = sourceError ?? source.errored ?? digests.errored;
      source.destroy();
      digests.destroy();
      // The uploader returns only once none of its requests is running, so no part lands after the abort.
      const leftover = await this.abortUpload(objectKey, uploader.uploadId);
      const failure = fromSource instanceof Error ? fromSource : lock ? this.lockFailure(error, doing) : s3Failure(error, doing);
      if (leftover) failure.message += ` (${leftover})`;
      throw failure;
    }
    const { size, sha256 } = digests.result();
    try {
      return await this.verifyPut(key, objectKey, versionId, digests, { size, sha256 }, lock);
    } catch (error) {
      await this.discardVersion(objectKey, versionId, error);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange, condition: { ifMatch?: string } = {}): Promise<Readable> {
    assertBlobKey(key);
    const header = range === undefined ? undefined : rangeHeader(range);
    try {
      const ifMatch = condition.ifMatch === undefined ? undefined : `"${unquote(condition.ifMatch)}"`;
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: header, IfMatch: ifMatch }));
      return withPortErrors(asReadable(output.Body), this.doing(`read ${JSON.stringify(key)} to its end`, 's3:GetObject', key));
    } catch (error) {
      throw s3Failure(error, this.doing(`read ${JSON.stringify(key)}${header ? ` (${header})` : ''}`, 's3:GetObject', key));
    }
  }

  async head(key: string): Promise<RepositoryObjectInfo | undefined> {
    assertBlobKey(key);
    const info = await this.headObject(this.prefix + key, undefined, this.doing(`look up ${JSON.stringify(key)}`, 's3:GetObject', key));
    if (!info) return undefined;
    const lock = lockOf(info);
    return {
      key,
      size: info.ContentLength ?? 0,
      lastModified: info.LastModified ?? new Date(0),
      etag: unquote(info.ETag),
      versionId: info.VersionId,
      ...(lock && { lockedUntil: lock.until, lockMode: lock.mode }),
      ...(info.ObjectLockLegalHoldStatus === 'ON' && { legalHold: true }),
      ...(info.Metadata?.['sha256'] && { sha256: info.Metadata['sha256'] }),
    };
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<RepositoryListing> {
    const normalized = normalizeBlobPrefix(prefix);
    const full = this.prefix + (normalized === '' ? '' : `${normalized}/`);
    const pageSize = Math.min(1000, Math.max(1, Math.floor(options.pageSize ?? 1000)));
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token, MaxKeys: pageSize }))
        .catch((error: unknown) => {
          throw s3Failure(error, this.doing(`list ${JSON.stringify(prefix)}`, 's3:ListBucket'));
        });
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length);
        if (key === undefined || !isValidBlobKey(key)) continue;
        yield { key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.deleteObject(this.prefix + key, key);
  }

  async sweepStaleUploads(olderThanMs: number): Promise<number> {
    // The store's Initiated times are on the store's clock.
    const cutoff = this.storeNow() - olderThanMs;
    const doing = this.doing('list unfinished multipart uploads', 's3:ListBucketMultipartUploads');
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client
        .send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }))
        .catch((error: unknown) => {
          throw s3Failure(error, doing);
        });
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated.getTime() > cutoff) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })).catch((error: unknown) => {
          if (s3ErrorCode(error) !== 'NoSuchUpload') throw s3Failure(error, this.doing('abort an unfinished multipart upload', 's3:AbortMultipartUpload'));
        });
        removed += 1;
      }
      if (!page.IsTruncated) return removed;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async probe(): Promise<ProbeResult> {
    const steps: ProbeStep[] = [];
    const finish = () => ({ ok: steps.every((s) => s.ok), steps });
    const attempt = async (step: ProbeStep['step'], run: () => Promise<string>): Promise<boolean> => {
      try {
        steps.push({ step, ok: true, message: await run() });
        return true;
      } catch (error) {
        steps.push({ step, ok: false, message: error instanceof Error ? error.message : String(error) });
        return false;
      }
    };

    const reached = await attempt('bucket', async () => {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 })).catch((error: unknown) => {
        throw s3Failure(error, this.doing(`list the bucket ${JSON.stringify(this.bucket)}`, 's3:ListBucket'));
      });
      return `Reached the bucket ${JSON.stringify(this.bucket)} (${this.location}) and may list it`;
    });
    // The SDK measures the store's clock from its answers, also failed ones (and corrects its signatures by it).
    const offset = this.client.config.systemClockOffset ?? 0;
    if (Math.abs(offset) > CLOCK_TOLERANCE_MS) {
      steps.push({
        step: 'clock',
        ok: false,
        message: `This machine's clock is ${formatDuration(Math.abs(offset))} ${offset > 0 ? 'behind' : 'ahead of'} the store's: lock dates and stale-upload sweeps count from it, and a store may refuse requests; set the clock right (NTP)`,
      });
    }
    if (!reached) return finish();

    if (this.config.objectLock) {
      const { mode, days } = this.config.objectLock;
      const locking = await attempt('object-lock', async () => {
        const answer = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket })).catch((error: unknown) => {
          if (s3ErrorCode(error) === 'ObjectLockConfigurationNotFoundError' || s3Status(error) === 404) return undefined;
          throw s3Failure(error, this.doing('read the bucket\u2019s Object Lock configuration', 's3:GetBucketObjectLockConfiguration'));
        });
        if (answer?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
          throw new Error(
            `The repository locks every copy (${mode}, ${days} days) but the bucket ${JSON.stringify(this.bucket)} does not have Object Lock enabled. Object Lock is switched on when a bucket is created (with Object Lock enabled, which also turns versioning on): create such a bucket, or remove the lock from the repository`,
          );
        }
        const rule = answer.ObjectLockConfiguration.Rule?.DefaultRetention;
        return `Object Lock is enabled on the bucket${rule ? ` (default retention: ${rule.Mode}, ${rule.Days ?? 0} days ${rule.Years ?? 0} years)` : ''}; copies are locked ${mode} for ${days} days`;
      });
      if (!locking) return finish();
    }

    const objectKey = `${this.prefix}${PROBE_PREFIX}${randomUUID()}`;
    const bytes = randomBytes(1024);
    let versionId: string | undefined;
    const wrote = await attempt('write', async () => {
      const output = await this.client
        .send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: bytes, ContentMD5: createHash('md5').update(bytes).digest('base64') }))
        .catch((error: unknown) => {
          throw s3Failure(error, this.doing('write a 1 KiB test object', 's3:PutObject'));
        });
      versionId = output.VersionId;
      return `Wrote a 1 KiB test object (${objectKey})`;
    });
    if (!wrote) return finish();
    await attempt('read', async () => {
      const body = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: versionId })).catch((error: unknown) => {
        throw s3Failure(error, this.doing('read the test object back', 's3:GetObject'));
      });
      const read = await collect(asReadable(body.Body));
      if (!read.equals(bytes)) throw new Error(`The test object read back differs from what was written (${read.length} of ${bytes.length} bytes): the store does not keep what it is given`);
      return 'Read the test object back, byte for byte';
    });
    await attempt('delete', async () => {
      try {
        await this.deleteObject(objectKey, objectKey);
      } catch (error) {
        if (error instanceof LockedError) {
          throw new Error(
            `The bucket's default retention locks every new object, the test object too: it stays until ${error.until?.toISOString() ?? 'its hold is removed'} (1 KiB). Deleting worked as far as AppVault can tell`,
          );
        }
        if (error instanceof RepositoryStoreError && error.reason === 'permission') {
          throw new Error(
            `The key may write and read but not delete (AccessDenied on DeleteObject): retention cannot prune this repository; grant s3:DeleteObject (and s3:DeleteObjectVersion on a versioned bucket), unless keeping everything is intended. The test object ${objectKey} (1 KiB) is left behind`,
          );
        }
        throw error;
      }
      return 'Deleted the test object';
    });
    return finish();
  }

  async presign(key: string, expiresInSeconds: number): Promise<string> {
    assertBlobKey(key);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new RepositoryStoreError('config', `A presigned URL lasts 1 to ${MAX_PRESIGN_SECONDS} seconds (7 days), not ${expiresInSeconds}`);
    }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { expiresIn: expiresInSeconds });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private doing(what: string, action: string, key?: string): S3Doing {
    return { what, action, key, bucket: this.bucket, location: this.location };
  }

  /**
   * Now on the store's clock, as far as the SDK has measured it. Date headers have whole seconds,
   * so offsets under the tolerance are noise, not skew.
   */
  private storeNow(): number {
    const offset = this.client.config.systemClockOffset ?? 0;
    return Date.now() + (Math.abs(offset) > CLOCK_NOISE_MS ? offset : 0);
  }

  /** A store refuses lock settings on a bucket without Object Lock with a bare 400 (radosgw: InvalidRequest, no message). */
  private lockFailure(error: unknown, doing: S3Doing): RepositoryStoreError {
    if (['InvalidRequest', 'InvalidArgument', 'InvalidBucketState', 'ObjectLockConfigurationNotFoundError'].includes(s3ErrorCode(error))) {
      return new RepositoryStoreError(
        'unsupported',
        `Could not ${doing.what} (${doing.location}): the store refuses to lock it (${s3ErrorCode(error)}); the bucket ${JSON.stringify(this.bucket)} needs Object Lock enabled, which is set when a bucket is created`,
        { cause: error },
      );
    }
    return s3Failure(error, doing);
  }

  private lockFor(options: RepositoryPutOptions): Lock | undefined {
    const mode = options.lockMode ?? this.config.objectLock?.mode ?? 'GOVERNANCE';
    if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw new RepositoryStoreError('config', `The lock mode must be GOVERNANCE or COMPLIANCE, not ${JSON.stringify(mode)}`);
    if (options.lockUntil !== undefined) {
      const until = options.lockUntil;
      if (!(until instanceof Date) || Number.isNaN(until.getTime())) throw new RepositoryStoreError('config', 'lockUntil must be a valid date');
      if (until.getTime() <= this.storeNow()) throw new RepositoryStoreError('config', `lockUntil ${until.toISOString()} is not in the future`);
      return { mode, until };
    }
    if (this.config.objectLock) return { mode, until: new Date(this.storeNow() + this.config.objectLock.days * 86_400_000) };
    if (options.lockMode) throw new RepositoryStoreError('config', 'A lock mode was given without lockUntil, and the repository has no default lock');
    return undefined;
  }

  private async verifyPut(
    key: string,
    objectKey: string,
    versionId: string | undefined,
    digests: PartDigests,
    sent: { size: number; sha256: string },
    lock: Lock | undefined,
  ): Promise<RepositoryPutResult> {
    const doing = this.doing(`check ${JSON.stringify(key)} after the upload`, 's3:GetObject', key);
    let info = await this.headObject(objectKey, versionId, doing, true);
    if (!info) throw new IntegrityError(key, 'the store does not show the object after its upload completed');
    if (info.ContentLength !== sent.size) throw new IntegrityError(key, `${sent.size} bytes were sent, the store holds ${info.ContentLength ?? 'an unknown number of'}`);
    let verifiedBy: Verification | undefined;
    if (!this.config.readBackVerify && info.ChecksumSHA256) {
      const expected = info.ChecksumType === 'FULL_OBJECT' ? Buffer.from(sent.sha256, 'hex').toString('base64') : digests.expectedCompositeSha256();
      if (info.ChecksumSHA256 !== expected) throw new IntegrityError(key, `the store's SHA-256 checksum is ${info.ChecksumSHA256}, the bytes sent give ${expected}`);
      verifiedBy = 'sha256-checksum';
    } else if (!this.config.readBackVerify && unquote(info.ETag) === digests.expectedEtag()) {
      verifiedBy = 'md5-etag';
    } else {
      // No checksum, and an ETag that is not the MD5 we know (encrypted objects, other servers): hash what the store returns.
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: versionId })).catch((error: unknown) => {
        throw s3Failure(error, doing);
      });
      const hash = createHash('sha256');
      for await (const chunk of asReadable(output.Body)) hash.update(chunk as Buffer);
      const read = hash.digest('hex');
      if (read !== sent.sha256) throw new IntegrityError(key, `SHA-256 ${sent.sha256} was sent, ${read} read back`);
      verifiedBy = 'read-back';
    }
    if (lock && !holds(lockOf(info), lock)) {
      // radosgw 16 ignores the lock headers of a multipart upload: set the retention on the version written.
      await this.client
        .send(
          new PutObjectRetentionCommand({
            Bucket: this.bucket,
            Key: objectKey,
            VersionId: info.VersionId ?? versionId,
            Retention: { Mode: lock.mode, RetainUntilDate: lock.until },
          }),
        )
        .catch((error: unknown) => {
          throw this.lockFailure(error, this.doing(`lock ${JSON.stringify(key)} until ${lock.until.toISOString()}`, 's3:PutObjectRetention', key));
        });
      info = (await this.headObject(objectKey, info.VersionId ?? versionId, doing)) ?? info;
      if (!holds(lockOf(info), lock)) {
        throw new RepositoryStoreError('unsupported', `The store did not keep the lock on ${JSON.stringify(key)} (${lock.mode} until ${lock.until.toISOString()}) (${this.location})`);
      }
    }
    const applied = lockOf(info);
    return {
      size: sent.size,
      sha256: sent.sha256,
      verifiedBy,
      etag: unquote(info.ETag),
      versionId: info.VersionId ?? versionId,
      ...(applied && { lockedUntil: applied.until, lockMode: applied.mode }),
    };
  }

  /** After a put failed its checks: the version written must not stay visible (unless the store locked it already). */
  private async discardVersion(objectKey: string, versionId: string | undefined, failure: unknown): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: versionId }));
    } catch (error) {
      if (failure instanceof Error) failure.message += ` (the object could not be removed: ${s3ErrorCode(error) || 'error'}${s3ErrorCode(error) === 'AccessDenied' ? ', it is locked' : ''})`;
    }
  }

  /** '' when the upload left nothing behind, else what is left and what removes it. */
  private async abortUpload(objectKey: string, uploadId: string | undefined): Promise<string> {
    if (!uploadId) return '';
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }));
      return '';
    } catch (error) {
      if (s3ErrorCode(error) === 'NoSuchUpload') return '';
      return `its multipart upload could not be aborted (${s3ErrorCode(error) || 'error'}); the stale-upload sweep removes it`;
    }
  }

  private async headObject(objectKey: string, versionId: string | undefined, doing: S3Doing, checksums = false): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: versionId, ...(checksums && { ChecksumMode: 'ENABLED' as const }) }),
      );
    } catch (error) {
      const code = s3ErrorCode(error);
      if (code === 'NotFound' || code === 'NoSuchKey' || (s3Status(error) === 404 && code !== 'NoSuchBucket')) return undefined;
      throw s3Failure(error, doing);
    }
  }

  /**
   * Removes the object: on a versioned bucket, version by version (a plain DeleteObject would only
   * add a delete marker and leave the bytes), until no version shows. A locked version stops it
   * with LockedError; AppVault never asks to bypass a lock.
   */
  private async deleteObject(objectKey: string, key: string): Promise<void> {
    const doing = this.doing(`delete ${JSON.stringify(key)}`, 's3:DeleteObject', key);
    for (let round = 0; round < MAX_VERSIONS_DELETED; round += 1) {
      const info = await this.headObject(objectKey, undefined, doing);
      if (!info) return;
      if (info.ObjectLockLegalHoldStatus === 'ON') throw new LockedError(key, undefined, 'legal-hold');
      const lock = lockOf(info);
      if (lock && lock.until.getTime() > this.storeNow()) throw new LockedError(key, lock.until, lock.mode);
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: info.VersionId }));
      } catch (error) {
        if (s3ErrorCode(error) === 'AccessDenied' && info.VersionId) {
          // HeadObject shows retention only to keys allowed to read it; ask once more before calling it a permission problem.
          const retention = await this.client.send(new GetObjectRetentionCommand({ Bucket: this.bucket, Key: objectKey, VersionId: info.VersionId })).catch(() => undefined);
          const until = retention?.Retention?.RetainUntilDate;
          if (until && until.getTime() > this.storeNow()) throw new LockedError(key, until, retention.Retention?.Mode ?? 'GOVERNANCE', { cause: error });
        }
        throw s3Failure(error, info.VersionId ? { ...doing, action: 's3:DeleteObject and s3:DeleteObjectVersion' } : doing);
      }
      if (!info.VersionId) return;
    }
    throw new RepositoryStoreError('config', `${JSON.stringify(key)} has more than ${MAX_VERSIONS_DELETED} versions; AppVault deleted that many and stopped`);
  }
}

function lockOf(info: HeadObjectCommandOutput): Lock | undefined {
  const until = info.ObjectLockRetainUntilDate;
  const mode = info.ObjectLockMode;
  if (!until || (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE')) return undefined;
  return { mode, until };
}

/** The store's lock is at least what was asked: as long (to the second, which is all some stores keep) and as strict. */
function holds(applied: Lock | undefined, wanted: Lock): boolean {
  if (!applied) return false;
  if (applied.until.getTime() < Math.floor(wanted.until.getTime() / 1000) * 1000) return false;
  return applied.mode === wanted.mode || applied.mode === 'COMPLIANCE';
}

function rangeHeader(range: ByteRange): string {
  if ('suffix' in range) {
    if (!Number.isSafeInteger(range.suffix) || range.suffix <= 0) throw new RepositoryStoreError('invalid-range', `A suffix range needs a positive byte count, not ${range.suffix}`);
    return `bytes=-${range.suffix}`;
  }
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new RepositoryStoreError('invalid-range', `The range ${JSON.stringify(range)} is not a byte range (0 <= start <= end)`);
  }
  return `bytes=${start}-${end ?? ''}`;
}

/**
 * The response body as the caller's stream, with a connection that breaks midway reported as a
 * port error (the caller resumes with a Range from what it has), and the response released when
 * the caller stops reading.
 */
function withPortErrors(body: Readable, doing: S3Doing): Readable {
  const out = new PassThrough();
  body.on('error', (error) => out.destroy(s3Failure(error, doing)));
  out.on('close', () => body.destroy());
  body.pipe(out);
  return out;
}

function asReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw new RepositoryStoreError('unavailable', 'The store answered without a body');
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const unquote = (etag: string | undefined): string | undefined => (etag ? etag.replaceAll('"', '') : undefined) || undefined;

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} hours` : `${Math.round(hours / 24)} days`;
}
