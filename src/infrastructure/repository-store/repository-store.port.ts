import type { Readable } from 'node:stream';

/**
 * The RepositoryStore port: where backup copies go that must survive the installation they
 * protect (a mounted folder, an S3-compatible bucket). Every adapter passes the contract suite in
 * test/contract/repository-store.contract.ts.
 *
 * Bytes stream both ways: a put reads its source as the store takes it, a get hands out the
 * store's own stream, so memory stays flat whatever an object's size. A put resolves only once the
 * store's copy has been checked against the bytes sent (see `verifiedBy`); a put that fails, or
 * whose process dies, leaves no visible object (at most a partial upload that `sweepStaleUploads`
 * removes).
 *
 * Keys follow the BlobStore's rules (`assertBlobKey`): slash-separated relative paths, no `..`,
 * no segment starting with a dot (those are the adapters' own: temp files, the probe's object).
 */

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface RepositoryPutOptions {
  /**
   * The object may not be deleted or overwritten before then (S3 Object Lock retention on the
   * version written). Unset: the repository's default lock, if it has one. AppVault never
   * bypasses a lock, in either mode; GOVERNANCE differs only in that an operator with the
   * store's bypass permission may lift it, COMPLIANCE in that nobody can.
   */
  lockUntil?: Date;
  /** With `lockUntil`; the repository's default mode, else GOVERNANCE. */
  lockMode?: LockMode;
  /** A storage class the store knows (S3: STANDARD, STANDARD_IA, GLACIER_IR...); the repository's default when unset. */
  storageClass?: string;
  contentType?: string;
  /**
   * The SHA-256 (lowercase hex) the bytes must have, when the caller knows it already (a copy of
   * an archive written elsewhere). A put whose bytes differ fails with IntegrityError and leaves
   * nothing. S3 stores it with the object (metadata `sha256`), so `head` can tell it later.
   */
  sha256?: string;
  /**
   * How many bytes the source will give, when the caller knows it (a copy of an archive). A hint
   * only, checked against nothing: it lets a store size its pieces (S3 takes at most 10,000 parts
   * per object, so a larger archive needs larger parts than the repository's).
   */
  sizeBytes?: number;
}

/** How a put made sure the store holds exactly the bytes sent. */
export type Verification =
  /** The store's own SHA-256 of what it stored (x-amz-checksum-sha256: whole object, or the composite of the parts), equal to ours. */
  | 'sha256-checksum'
  /** Each part sent with Content-MD5 (the store refuses a part that differs) and the object's ETag equal to the MD5 (of the part MD5s) we computed. */
  | 'md5-etag'
  /** The object read back from the store and hashed again. */
  | 'read-back';

export interface RepositoryPutResult {
  size: number;
  /** Lowercase hex SHA-256 of the bytes, computed while they streamed through. */
  sha256: string;
  verifiedBy: Verification;
  etag?: string;
  versionId?: string;
  /** The retention the store reports for the version written (checked, not assumed). */
  lockedUntil?: Date;
  lockMode?: LockMode;
}

/**
 * Bytes `start` to `end` (both inclusive; to the end when `end` is unset), or the last `suffix`
 * bytes. A range that starts past the end is refused with reason `invalid-range`.
 */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface RepositoryObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  etag?: string;
  versionId?: string;
  lockedUntil?: Date;
  lockMode?: LockMode;
  legalHold?: boolean;
  /** The SHA-256 stored with the object, where the put was given one (`RepositoryPutOptions.sha256`). */
  sha256?: string;
}

export interface RepositoryListing {
  key: string;
  size: number;
  lastModified: Date;
}

export interface ListOptions {
  /** How many keys one request to the store asks for (S3 ListObjectsV2 MaxKeys, at most 1000). */
  pageSize?: number;
}

export type ProbeStepName = 'folder' | 'bucket' | 'object-lock' | 'clock' | 'write' | 'read' | 'delete';

export interface ProbeStep {
  step: ProbeStepName;
  ok: boolean;
  /** What happened, in words an operator can act on. */
  message: string;
}

export interface ProbeResult {
  ok: boolean;
  steps: ProbeStep[];
}

export interface RepositoryCapabilities {
  /** Puts may carry `lockUntil` (S3 with Object Lock on the bucket). */
  objectLock: boolean;
  /** AppVault never deletes or replaces anything there (a folder an operator's own tool prunes). */
  appendOnly: boolean;
  /** `presign` hands out URLs a client downloads from directly. */
  presign: boolean;
}

export interface RepositoryStore {
  readonly kind: 'filesystem' | 's3';
  readonly capabilities: RepositoryCapabilities;
  /** Where the repository is, for messages (a folder, `s3://bucket/prefix at endpoint`); never credentials. */
  readonly location: string;

  /**
   * Streams `source` to `key` and resolves once the store's copy is verified. Rejects with the
   * source's error if it fails (the object is then not created), with IntegrityError if the store
   * holds other bytes than were sent, with RepositoryStoreError otherwise.
   */
  put(key: string, source: Readable, options?: RepositoryPutOptions): Promise<RepositoryPutResult>;

  /**
   * The object's bytes, whole or a range; ObjectNotFoundError when there is none. With `ifMatch`
   * (an ETag `head` gave), a store that keeps ETags answers only while the object still has it,
   * else fails with reason `changed` (a download continued with a range must not splice two objects).
   */
  get(key: string, range?: ByteRange, condition?: { ifMatch?: string }): Promise<Readable>;

  head(key: string): Promise<RepositoryObjectInfo | undefined>;

  /** Every object under `prefix` (whole segments: `a` lists `a/…`, not `ab`; '' = all), page by page. */
  list(prefix: string, options?: ListOptions): AsyncIterable<RepositoryListing>;

  /**
   * Removes the object (every version of it, on a versioned bucket); a missing one is fine.
   * A locked one throws LockedError saying until when; an append-only repository refuses.
   */
  delete(key: string): Promise<void>;

  /**
   * Removes uploads that were started more than `olderThanMs` ago and never finished (S3
   * multipart uploads, temp files): what a killed process left. Another installation may share
   * the store, so callers pass an age no live upload reaches. Resolves with how many it removed.
   */
  sweepStaleUploads(olderThanMs: number): Promise<number>;

  /** Writes, reads and deletes a small object of its own and says what failed. Never throws. */
  probe(): Promise<ProbeResult>;

  /** A URL that downloads the object without credentials until it expires (S3 only). */
  presign?(key: string, expiresInSeconds: number): Promise<string>;

  close(): Promise<void>;
}

/**
 * Why an operation failed, for callers that decide what to do next (retry later, fail the copy,
 * answer 409) without reading messages.
 */
export type RepositoryFailure =
  | 'not-found'
  | 'locked'
  | 'integrity'
  /** The repository refuses by its own rules (append-only). */
  | 'refused'
  | 'credentials'
  | 'permission'
  | 'no-bucket'
  | 'clock'
  | 'tls'
  | 'network'
  | 'throttled'
  | 'unavailable'
  | 'full'
  | 'invalid-range'
  /** The object is no longer the one a conditional read asked for (another ETag). */
  | 'changed'
  | 'unsupported'
  | 'config';

const TRANSIENT: ReadonlySet<RepositoryFailure> = new Set(['network', 'throttled', 'unavailable']);

export class RepositoryStoreError extends Error {
  /** Worth trying again later (the adapter has already retried with backoff). */
  readonly transient: boolean;

  constructor(
    readonly reason: RepositoryFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RepositoryStoreError';
    this.transient = TRANSIENT.has(reason);
  }
}

export class ObjectNotFoundError extends RepositoryStoreError {
  constructor(
    readonly key: string,
    where: string,
  ) {
    super('not-found', `No object ${JSON.stringify(key)} in ${where}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class LockedError extends RepositoryStoreError {
  constructor(
    readonly key: string,
    /** Until when the store keeps it; undefined under a legal hold, which has no date. */
    readonly until: Date | undefined,
    readonly mode: LockMode | 'legal-hold',
    options?: { cause?: unknown },
  ) {
    super(
      'locked',
      mode === 'legal-hold'
        ? `${JSON.stringify(key)} is under a legal hold: the store keeps it until the hold is removed`
        : `${JSON.stringify(key)} is locked until ${until?.toISOString()} (${mode}): the store refuses to delete it before then`,
      options,
    );
    this.name = 'LockedError';
  }
}

export class IntegrityError extends RepositoryStoreError {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super('integrity', `The store's copy of ${JSON.stringify(key)} does not match the bytes sent: ${detail}`);
    this.name = 'IntegrityError';
  }
}

/** `{ start, end }` of a range within an object of `size` bytes, or undefined when it starts past the end. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } | undefined {
  if ('suffix' in range) {
    if (!Number.isSafeInteger(range.suffix) || range.suffix <= 0) return undefined;
    return size === 0 ? undefined : { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start >= size) return undefined;
  if (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start)) return undefined;
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
