import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore, InvalidBlobKeyError } from '../blob-store/blob-store.port.js';
import {
  type ByteRange,
  IntegrityError,
  type ListOptions,
  ObjectNotFoundError,
  type ProbeResult,
  type ProbeStep,
  type RepositoryCapabilities,
  type RepositoryListing,
  type RepositoryObjectInfo,
  type RepositoryPutOptions,
  type RepositoryPutResult,
  type RepositoryStore,
  RepositoryStoreError,
  resolveRange,
} from './repository-store.port.js';

/** The probe's objects: a key of their own, removed at once (blob keys cannot start with a dot). */
const PROBE_PREFIX = 'repository-probe';

/**
 * The installation's own blob store (`<DATA_DIR>/blobs`, or GridFS) seen as a RepositoryStore:
 * the repository named `local`, where every backup's archive is written first. It holds what the
 * blob store holds and keeps its rules; it cannot lock anything, and it does not own the blob
 * store, so closing it leaves the store open.
 */
export class BlobRepositoryStore implements RepositoryStore {
  readonly kind = 'filesystem' as const;
  readonly capabilities: RepositoryCapabilities = { objectLock: false, appendOnly: false, presign: false };
  readonly location: string;

  constructor(
    private readonly blobs: BlobStore,
    /** Where the blob store is, for messages: `folder /data/blobs` or `MongoDB GridFS`. */
    where: string,
  ) {
    this.location = `this installation's own store (${where})`;
  }

  async put(key: string, source: Readable, options: RepositoryPutOptions = {}): Promise<RepositoryPutResult> {
    if (options.lockUntil) {
      source.destroy();
      throw new RepositoryStoreError('unsupported', `${this.location} cannot lock ${JSON.stringify(key)} against deletion: use an S3 repository with Object Lock`);
    }
    const written = await this.blobs.put(key, source).catch((error: unknown) => {
      throw this.failure(error, `write ${JSON.stringify(key)}`);
    });
    // The blob store hashed the bytes as they went in; reading them back proves what it now holds.
    const reread = await this.hash(key);
    const expected = options.sha256?.toLowerCase();
    if (reread !== written.sha256 || (expected !== undefined && expected !== written.sha256)) {
      await this.blobs.delete(key).catch(() => undefined);
      throw new IntegrityError(
        key,
        reread !== written.sha256 ? `SHA-256 ${written.sha256} was written, ${reread} read back` : `the bytes have SHA-256 ${written.sha256}, the caller expected ${expected}`,
      );
    }
    return { size: written.size, sha256: written.sha256, verifiedBy: 'read-back' };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const info = await this.head(key);
    if (!info) throw new ObjectNotFoundError(key, this.location);
    if (!range) return this.open(key);
    const bounds = resolveRange(range, info.size);
    if (!bounds) throw new RepositoryStoreError('invalid-range', `The range ${JSON.stringify(range)} lies outside ${JSON.stringify(key)} (${info.size} bytes)`);
    return this.open(key, bounds);
  }

  async head(key: string): Promise<RepositoryObjectInfo | undefined> {
    const info = await this.blobs.stat(key).catch((error: unknown) => {
      throw this.failure(error, `look up ${JSON.stringify(key)}`);
    });
    return info && { key, size: info.size, lastModified: info.modified };
  }

  async *list(prefix: string, _options?: ListOptions): AsyncIterable<RepositoryListing> {
    for await (const blob of this.blobs.list(prefix)) yield { key: blob.key, size: blob.size, lastModified: blob.modified };
  }

  async delete(key: string): Promise<void> {
    await this.blobs.delete(key).catch((error: unknown) => {
      throw this.failure(error, `delete ${JSON.stringify(key)}`);
    });
  }

  /**
   * Nothing to do here: the blob store removes its own partial writes (at start-up, and the folder
   * store its abandoned temp files as it goes), which no other installation shares.
   */
  async sweepStaleUploads(_olderThanMs: number): Promise<number> {
    return 0;
  }

  async probe(): Promise<ProbeResult> {
    const steps: ProbeStep[] = [];
    const key = `${PROBE_PREFIX}/${randomUUID()}`;
    const bytes = randomBytes(1024);
    const attempt = async (step: ProbeStep['step'], run: () => Promise<string>): Promise<boolean> => {
      try {
        steps.push({ step, ok: true, message: await run() });
        return true;
      } catch (error) {
        steps.push({ step, ok: false, message: this.failure(error, `${step} a test object`).message });
        return false;
      }
    };
    if (
      await attempt('write', async () => {
        await this.blobs.put(key, Readable.from([bytes]));
        return `Wrote a 1 KiB test object in ${this.location}`;
      })
    ) {
      await attempt('read', async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.blobs.get(key)) chunks.push(chunk as Buffer);
        const read = Buffer.concat(chunks);
        if (!read.equals(bytes)) throw new Error(`The test object read back differs from what was written (${read.length} of ${bytes.length} bytes)`);
        return 'Read the test object back, byte for byte';
      });
    }
    await attempt('delete', async () => {
      await this.blobs.delete(key);
      return 'Removed the test object';
    });
    return { ok: steps.every((s) => s.ok), steps };
  }

  /** The blob store belongs to the installation: it stays open. */
  async close(): Promise<void> {}

  private async open(key: string, bounds?: { start: number; end: number }): Promise<Readable> {
    return this.blobs.get(key, bounds).catch((error: unknown) => {
      throw this.failure(error, `read ${JSON.stringify(key)}`);
    });
  }

  private async hash(key: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await this.open(key)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  private failure(error: unknown, doing: string): Error {
    if (error instanceof RepositoryStoreError || error instanceof InvalidBlobKeyError) return error;
    if (error instanceof BlobNotFoundError) return new ObjectNotFoundError(error.key, this.location);
    return new RepositoryStoreError('unavailable', `Could not ${doing} in ${this.location}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
