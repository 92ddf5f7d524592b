import type { Readable } from 'node:stream';

/**
 * The BlobStore port: bytes that do not belong in events (asset file versions, backup archives).
 * Every adapter passes the contract suite in test/contract/blob-store.contract.ts.
 *
 * Keys are slash-separated relative paths (`assets/{appId}/{assetId}/{fileVersion}`). They are
 * validated by every method, because a key that escapes the store (`..`, an absolute path) would
 * let a caller read or overwrite any file the process can reach. Segments starting with a dot are
 * reserved for the adapters' own bookkeeping (temporary uploads). A key must not also be the
 * prefix of another key: a filesystem cannot hold a file and a directory under one name.
 */

export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  /** The put fails with BlobTooLargeError as soon as the source yields more bytes than this. */
  maxBytes?: number;
}

export interface PutResult {
  size: number;
  /** Lowercase hex SHA-256 of the bytes written, computed while they streamed through. */
  sha256: string;
}

export interface BlobInfo {
  key: string;
  size: number;
  /** When the blob was last written (a file's mtime, a GridFS upload date). */
  modified: Date;
}

export class InvalidBlobKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`Invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`No blob is stored under ${JSON.stringify(key)}`);
    this.name = 'BlobNotFoundError';
  }
}

export class BlobTooLargeError extends Error {
  constructor(
    readonly key: string,
    readonly maxBytes: number,
  ) {
    super(`The blob ${JSON.stringify(key)} is larger than the limit of ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export interface BlobStore {
  readonly kind: 'filesystem' | 'gridfs';

  /**
   * Streams `source` into the store under `key`, replacing what was there. The blob becomes
   * visible only once it is complete: a failed or oversized put leaves nothing behind (and an
   * earlier blob under the same key untouched). Rejects with the source's error if it fails.
   */
  put(key: string, source: Readable, options?: PutOptions): Promise<PutResult>;

  /**
   * Opens the blob for reading, whole or the bytes `start` to `end` (both inclusive, within its
   * size: callers check against stat first); rejects with BlobNotFoundError when there is none.
   */
  get(key: string, range?: ByteRange): Promise<Readable>;

  stat(key: string): Promise<BlobInfo | undefined>;
  exists(key: string): Promise<boolean>;

  /**
   * Where the blob's bytes lie on local disk, for stores that keep blobs as files; undefined for
   * the others (and for a missing blob). Callers only read the file: restores open a backup's
   * archive in place instead of copying it first.
   */
  localFile?(key: string): Promise<string | undefined>;

  /** Removes one blob; a no-op when it does not exist. */
  delete(key: string): Promise<void>;

  /**
   * Removes every blob whose key is `prefix` or lies under `prefix/` (whole segments: `a/b` does
   * not touch `a/bc`). An empty prefix is refused so a bug cannot wipe the store.
   */
  deletePrefix(prefix: string): Promise<void>;

  /** Every blob at or under `prefix` (whole segments; empty = all), in no particular order. */
  list(prefix: string): AsyncIterable<BlobInfo>;

  /**
   * Removes partial writes that a process killed mid-put left behind. Called once at start-up,
   * before any put, so a crashed backup leaves no partial archive anywhere.
   */
  removeIncomplete(): Promise<void>;

  close(): Promise<void>;
}

export const BLOB_STORE = Symbol('BLOB_STORE');

const MAX_KEY_LENGTH = 1024;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws InvalidBlobKeyError unless `key` is a safe relative path inside the store. */
export function assertBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'it is empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(key.slice(0, 40), `it is longer than ${MAX_KEY_LENGTH} characters`);
  if (key.includes('\0')) throw new InvalidBlobKeyError(key, 'it contains a NUL character');
  if (CONTROL.test(key)) throw new InvalidBlobKeyError(key, 'it contains control characters');
  if (key.includes('\\')) throw new InvalidBlobKeyError(key, 'it contains a backslash; use "/" between segments');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) throw new InvalidBlobKeyError(key, 'it is an absolute path');
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'it has an empty segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, 'it contains "." or ".." segments');
    if (segment.startsWith('.')) throw new InvalidBlobKeyError(key, 'segments starting with "." are reserved for the store');
  }
}

/** Whether `key` passes `assertBlobKey`: for listings, which skip what is not a key (temp files, foreign names). */
export function isValidBlobKey(key: string): boolean {
  try {
    assertBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

/** Validates a prefix (a key, optionally with a trailing slash) and returns it without the slash; '' stays ''. */
export function normalizeBlobPrefix(prefix: string): string {
  if (prefix === '') return '';
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertBlobKey(trimmed);
  return trimmed;
}
