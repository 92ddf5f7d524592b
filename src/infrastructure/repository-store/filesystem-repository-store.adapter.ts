import { randomBytes, randomUUID } from 'node:crypto';
import { hashFile as hashFileWithSize } from '../../platform/file-hash.js';
import { constants as fsConstants } from 'node:fs';
import { access, type FileHandle, link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobMeter } from '../blob-store/blob-meter.transform.js';
import { syncDirectory, writeNewFile } from '../blob-store/durable-file.js';
import { assertBlobKey, isValidBlobKey, InvalidBlobKeyError, normalizeBlobPrefix } from '../blob-store/blob-store.port.js';
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

export interface FilesystemRepositoryOptions {
  /** AppVault never deletes or replaces a copy there; the operator's own tool prunes. */
  appendOnly?: boolean;
}

/** Uploads in progress: hidden (no key may start with a dot), in the target's own folder so the rename never crosses a mount. */
const TEMP_PREFIX = '.appvault-';
const TEMP_NAME = /^\.appvault-[0-9a-f-]{36}\.part$/;
const PROBE_NAME = '.appvault-probe';

const errorCode = (error: unknown): string =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : '';

const MISSING = new Set(['ENOENT', 'ENOTDIR']);
/** Filesystems without hard links (some SMB and FUSE mounts) answer these to link(). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * A backup repository in a folder: a mounted NAS share, a second disk. Objects are plain files
 * under the folder, named by their keys, so an operator can see, copy and prune them.
 *
 * The folder itself must exist: AppVault creates folders below it, never the folder, so a NAS that
 * is not mounted is reported as such instead of filling the local disk under the mount point.
 * A put writes a hidden temp file beside its target, fsyncs it, reads it back to check its SHA-256,
 * and renames it into place (links it, in append-only mode, so an existing copy is never
 * replaced). The read-back may be served from the page cache: it proves what the filesystem
 * returns, not the medium. A folder cannot lock a copy; append-only mode is its immutability.
 */
export class FilesystemRepositoryStore implements RepositoryStore {
  readonly kind = 'filesystem' as const;
  readonly capabilities: RepositoryCapabilities;
  readonly root: string;
  readonly location: string;
  private readonly appendOnly: boolean;

  constructor(root: string, options: FilesystemRepositoryOptions = {}) {
    this.root = resolve(root);
    this.location = `folder ${this.root}`;
    this.appendOnly = options.appendOnly ?? false;
    this.capabilities = { objectLock: false, appendOnly: this.appendOnly, presign: false };
  }

  async put(key: string, source: Readable, options: RepositoryPutOptions = {}): Promise<RepositoryPutResult> {
    let target: string;
    try {
      target = this.path(key);
      if (options.lockUntil) {
        throw new RepositoryStoreError(
          'unsupported',
          `A folder cannot lock ${JSON.stringify(key)} against deletion (${this.location}): mark the repository append-only, or use an S3 bucket with Object Lock`,
        );
      }
      if (this.appendOnly && (await this.head(key))) throw this.appendOnlyRefusal(key, 'replace');
      await this.ensureRoot();
      await mkdir(dirname(target), { recursive: true }).catch((error: unknown) => {
        throw this.failure(error, `create the folder for ${JSON.stringify(key)}`, key);
      });
    } catch (error) {
      source.destroy();
      throw error;
    }
    const temp = join(dirname(target), `${TEMP_PREFIX}${randomUUID()}.part`);
    const meter = new BlobMeter(key);
    try {
      await writeNewFile(temp, source, meter, 0o640);
      const { size, sha256 } = meter.result();
      const reread = await hashFile(temp);
      if (reread !== sha256) throw new IntegrityError(key, `SHA-256 ${sha256} was written, ${reread} read back from ${temp}`);
      if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256) {
        throw new IntegrityError(key, `the bytes have SHA-256 ${sha256}, the caller expected ${options.sha256}`);
      }
      await this.publish(temp, target, key);
      return { size, sha256, verifiedBy: 'read-back' };
    } catch (error) {
      if (!source.destroyed) source.destroy();
      await rm(temp, { force: true }).catch(() => undefined);
      if (error instanceof RepositoryStoreError || error instanceof InvalidBlobKeyError || !errorCode(error)) throw error;
      throw this.failure(error, `write ${JSON.stringify(key)}`, key);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (MISSING.has(errorCode(error)) || errorCode(error) === 'EISDIR') throw new ObjectNotFoundError(key, this.location);
      throw this.failure(error, `read ${JSON.stringify(key)}`, key);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key, this.location);
      if (!range) return handle.createReadStream();
      const bounds = resolveRange(range, info.size);
      if (!bounds) throw new RepositoryStoreError('invalid-range', `The range ${JSON.stringify(range)} lies outside ${JSON.stringify(key)} (${info.size} bytes)`);
      return handle.createReadStream(bounds);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async head(key: string): Promise<RepositoryObjectInfo | undefined> {
    const path = this.path(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (error) {
      if (MISSING.has(errorCode(error))) return undefined;
      throw this.failure(error, `look up ${JSON.stringify(key)}`, key);
    }
  }

  async *list(prefix: string, _options?: ListOptions): AsyncIterable<RepositoryListing> {
    const normalized = normalizeBlobPrefix(prefix);
    yield* this.walk(normalized === '' ? this.root : this.path(normalized), normalized);
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    if (this.appendOnly) throw this.appendOnlyRefusal(key, 'delete');
    try {
      await unlink(path);
    } catch (error) {
      const code = errorCode(error);
      // A folder under that name holds other keys; it is not this object.
      if (MISSING.has(code) || code === 'EISDIR') return;
      throw this.failure(error, `delete ${JSON.stringify(key)}`, key);
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async sweepStaleUploads(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for await (const path of this.tempFiles(this.root)) {
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs <= cutoff) {
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async probe(): Promise<ProbeResult> {
    const steps: ProbeStep[] = [];
    const done = (step: ProbeStep) => steps.push(step) && step.ok;
    const folder = await this.checkFolder();
    if (!done(folder)) return { ok: false, steps };
    const path = join(this.root, `${PROBE_NAME}-${randomUUID()}`);
    const bytes = randomBytes(1024);
    const wrote = await writeDurably(path, bytes).then(
      () => ({ step: 'write' as const, ok: true, message: `Wrote a 1 KiB test file in ${this.root}` }),
      (error: unknown) => ({ step: 'write' as const, ok: false, message: this.failure(error, 'write a test file', undefined).message }),
    );
    if (!done(wrote)) {
      await rm(path, { force: true }).catch(() => undefined);
      return { ok: false, steps };
    }
    done(
      await readFile(path).then(
        (read) =>
          read.equals(bytes)
            ? { step: 'read' as const, ok: true, message: 'Read the test file back, byte for byte' }
            : { step: 'read' as const, ok: false, message: `The test file read back differs from what was written (${read.length} of ${bytes.length} bytes): the folder does not keep what it is given` },
        (error: unknown) => ({ step: 'read' as const, ok: false, message: this.failure(error, 'read the test file back', undefined).message }),
      ),
    );
    done(
      await unlink(path).then(
        () => ({
          step: 'delete' as const,
          ok: true,
          message: this.appendOnly ? 'Removed the test file (append-only: the only file AppVault ever removes there)' : 'Removed the test file',
        }),
        (error: unknown) => ({ step: 'delete' as const, ok: false, message: this.failure(error, `remove the test file ${path}`, undefined).message }),
      ),
    );
    return { ok: steps.every((s) => s.ok), steps };
  }

  async close(): Promise<void> {}

  private path(key: string): string {
    assertBlobKey(key);
    const full = join(this.root, ...key.split('/'));
    // Validation already rules this out; a mistake here would expose the disk.
    if (!full.startsWith(this.root + sep)) throw new InvalidBlobKeyError(key, 'it resolves outside the repository');
    return full;
  }

  private async ensureRoot(): Promise<void> {
    const info = await stat(this.root).catch((error: unknown) => {
      throw this.failure(error, 'open the repository folder', undefined);
    });
    if (!info.isDirectory()) throw new RepositoryStoreError('config', `${this.root} is not a folder`);
  }

  private async checkFolder(): Promise<ProbeStep> {
    try {
      await this.ensureRoot();
      await access(this.root, fsConstants.W_OK | fsConstants.R_OK);
      const space = await statfs(this.root);
      const free = space.bavail * space.bsize;
      return { step: 'folder', ok: true, message: `${this.root} is a folder this process can write to; ${formatBytes(free)} free` };
    } catch (error) {
      return { step: 'folder', ok: false, message: error instanceof RepositoryStoreError ? error.message : this.failure(error, 'use the repository folder', undefined).message };
    }
  }

  private async publish(temp: string, target: string, key: string): Promise<void> {
    try {
      if (!this.appendOnly) {
        await rename(temp, target);
      } else {
        try {
          // link() never replaces: an existing copy makes it fail with EEXIST, atomically.
          await link(temp, target);
          await unlink(temp);
        } catch (error) {
          if (errorCode(error) === 'EEXIST') throw this.appendOnlyRefusal(key, 'replace');
          if (!NO_HARD_LINKS.has(errorCode(error))) throw error;
          if (await this.head(key)) throw this.appendOnlyRefusal(key, 'replace');
          await rename(temp, target);
        }
      }
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EISDIR' || code === 'ENOTEMPTY') throw new InvalidBlobKeyError(key, 'it is the prefix of other objects');
      throw error;
    }
    await syncDirectory(dirname(target));
  }

  private appendOnlyRefusal(key: string, what: 'delete' | 'replace'): RepositoryStoreError {
    return new RepositoryStoreError(
      'refused',
      `${this.location} is append-only: AppVault never ${what === 'delete' ? 'deletes' : 'replaces'} ${JSON.stringify(key)} there (the operator's own tool prunes it)`,
    );
  }

  /** The filesystem's error in words that say what to do; `key` is undefined for the probe's own file. */
  private failure(error: unknown, doing: string, key: string | undefined): RepositoryStoreError | InvalidBlobKeyError {
    if (error instanceof RepositoryStoreError || error instanceof InvalidBlobKeyError) return error;
    const code = errorCode(error);
    const where = this.root;
    const cause = { cause: error };
    switch (code) {
      case 'ENOENT':
        if (key === undefined || !(error as { path?: string }).path?.startsWith(where + sep)) {
          return new RepositoryStoreError('config', `The folder ${where} does not exist: if it is a mount point (NAS, second disk), mount it; AppVault does not create it`, cause);
        }
        return new ObjectNotFoundError(key, this.location);
      case 'ENOTDIR':
        return key === undefined ? new RepositoryStoreError('config', `${where} is not a folder`, cause) : new InvalidBlobKeyError(key, 'a part of its path is itself an object');
      case 'ENOSPC':
      case 'EDQUOT':
        return new RepositoryStoreError('full', `Could not ${doing}: the disk of ${where} is full (or its quota is used up); free space there (delete old copies) or give the repository a larger disk`, cause);
      case 'EACCES':
      case 'EPERM':
        return new RepositoryStoreError('permission', `Could not ${doing}: this process (uid ${process.getuid?.() ?? '?'}) may not write to ${where}; give it write permission`, cause);
      case 'EROFS':
        return new RepositoryStoreError('permission', `Could not ${doing}: ${where} is on a read-only filesystem (is the share mounted read-only?)`, cause);
      case 'EIO':
      case 'ESTALE':
      case 'ETIMEDOUT':
      case 'EHOSTDOWN':
        return new RepositoryStoreError('unavailable', `Could not ${doing}: the filesystem of ${where} answered ${code} (a network share gone away, or a failing disk)`, cause);
      default:
        return new RepositoryStoreError('unavailable', `Could not ${doing} in ${where}: ${(error as Error).message ?? String(error)}`, cause);
    }
  }

  private async pruneEmptyParents(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.root + sep); current = dirname(current)) {
      if (!(await rmdir(current).then(() => true, () => false))) return;
    }
  }

  private async *walk(path: string, key: string): AsyncIterable<RepositoryListing> {
    const info = await stat(path).catch((error: unknown) => {
      if (MISSING.has(errorCode(error))) return undefined;
      throw this.failure(error, 'list the repository', undefined);
    });
    if (!info?.isDirectory()) return;
    const entries = await readdir(path, { withFileTypes: true }).catch((error: unknown) => {
      if (MISSING.has(errorCode(error))) return [];
      throw this.failure(error, 'list the repository', undefined);
    });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      const childKey = key === '' ? entry.name : `${key}/${entry.name}`;
      if (!isValidBlobKey(childKey)) continue;
      const childPath = join(path, entry.name);
      if (entry.isDirectory()) {
        yield* this.walk(childPath, childKey);
      } else if (entry.isFile()) {
        const file = await stat(childPath).catch(() => undefined);
        if (file) yield { key: childKey, size: file.size, lastModified: file.mtime };
      }
    }
  }

  private async *tempFiles(dir: string): AsyncIterable<string> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith('.')) yield* this.tempFiles(path);
      else if (entry.isFile() && (TEMP_NAME.test(entry.name) || entry.name.startsWith(PROBE_NAME))) yield path;
    }
  }
}

async function hashFile(path: string): Promise<string> {
  return (await hashFileWithSize(path)).sha256;
}

async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
