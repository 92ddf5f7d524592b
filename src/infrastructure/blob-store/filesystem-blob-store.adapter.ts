import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobMeter } from './blob-meter.transform.js';
import { syncDirectory, writeNewFile } from './durable-file.js';
import {
  assertBlobKey,
  isValidBlobKey,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStore,
  InvalidBlobKeyError,
  normalizeBlobPrefix,
  type PutOptions,
  type PutResult,
  type ByteRange,
} from './blob-store.port.js';

/** Hidden, so it can never collide with a key (keys may not have segments starting with a dot). */
const TEMP_DIR = '.tmp';
/** A temp file untouched this long belongs to a process that died mid-upload; live uploads keep writing to theirs. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;
const RENAME_ATTEMPTS = 3;

const errorCode = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Blobs as plain files under one root (`<DATA_DIR>/blobs`), so an operator can see and copy them.
 * Uploads go to `.tmp/` on the same filesystem and are renamed into place after an fsync, which
 * makes a blob appear whole or not at all, even across a crash or power cut.
 */
export class FilesystemBlobStore implements BlobStore {
  readonly kind = 'filesystem' as const;
  readonly root: string;
  private readonly tempDir: string;
  private swept = false;

  constructor(root: string) {
    this.root = resolve(root);
    this.tempDir = join(this.root, TEMP_DIR);
  }

  async put(key: string, source: Readable, options: PutOptions = {}): Promise<PutResult> {
    let target: string;
    try {
      target = this.path(key);
    } catch (error) {
      source.destroy();
      throw error;
    }
    await mkdir(this.tempDir, { recursive: true });
    this.sweepAbandonedOnce();
    const temp = join(this.tempDir, `${randomUUID()}.part`);
    const meter = new BlobMeter(key, options.maxBytes);
    try {
      await writeNewFile(temp, source, meter, 0o600);
      await this.moveIntoPlace(temp, target, key);
      return meter.result();
    } catch (error) {
      // pipeline() destroys the source on failure, but not when open() failed before it ran.
      if (!source.destroyed) source.destroy();
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (MISSING.has(errorCode(error) ?? '') || errorCode(error) === 'EISDIR') throw new BlobNotFoundError(key);
      throw error;
    }
    const info = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    if (!info.isFile()) {
      await handle.close();
      throw new BlobNotFoundError(key);
    }
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const path = this.path(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { key, size: info.size, modified: info.mtime } : undefined;
    } catch (error) {
      if (MISSING.has(errorCode(error) ?? '')) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (error) {
      const code = errorCode(error) ?? '';
      // A directory under that name is other keys' prefix, not this blob: nothing to delete.
      if (!MISSING.has(code) && code !== 'EISDIR' && code !== 'EPERM') throw error;
      return;
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const normalized = normalizeBlobPrefix(prefix);
    if (normalized === '') throw new InvalidBlobKeyError('', 'an empty prefix would delete every blob');
    const path = this.path(normalized);
    await rm(path, { recursive: true, force: true });
    await this.pruneEmptyParents(dirname(path));
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const normalized = normalizeBlobPrefix(prefix);
    yield* this.walk(normalized === '' ? this.root : this.path(normalized), normalized);
  }

  async close(): Promise<void> {}

  async localFile(key: string): Promise<string | undefined> {
    return (await this.exists(key)) ? this.path(key) : undefined;
  }

  private path(key: string): string {
    assertBlobKey(key);
    const full = join(this.root, ...key.split('/'));
    // Belt and braces: validation already rules this out, but a mistake here would expose the disk.
    if (!full.startsWith(this.root + sep)) throw new InvalidBlobKeyError(key, 'it resolves outside the store');
    return full;
  }

  private async moveIntoPlace(temp: string, target: string, key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(temp, target);
        break;
      } catch (error) {
        const code = errorCode(error);
        // A concurrent delete may prune the fresh parent directory between mkdir and rename.
        if (code === 'ENOENT' && attempt < RENAME_ATTEMPTS) continue;
        if (code === 'ENOTDIR' || code === 'EEXIST') throw new InvalidBlobKeyError(key, 'a part of its path is itself a blob');
        if (code === 'EISDIR' || code === 'ENOTEMPTY') throw new InvalidBlobKeyError(key, 'it is the prefix of other blobs');
        throw error;
      }
    }
    await syncDirectory(dirname(target));
  }

  /** Keeps the tree free of empty directories so listings and `du` stay meaningful. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    let current = dir;
    while (current.startsWith(this.root + sep)) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
      current = dirname(current);
    }
  }

  private async *walk(path: string, key: string): AsyncIterable<BlobInfo> {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if (MISSING.has(errorCode(error) ?? '')) return;
      throw error;
    }
    if (info.isFile()) {
      if (key !== '') yield { key, size: info.size, modified: info.mtime };
      return;
    }
    if (!info.isDirectory()) return;
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      if (MISSING.has(errorCode(error) ?? '')) return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childKey = key === '' ? entry.name : `${key}/${entry.name}`;
      if (!isValidBlobKey(childKey)) continue;
      if (entry.isDirectory() || entry.isFile()) yield* this.walk(join(path, entry.name), childKey);
    }
  }

  /** One process owns DATA_DIR, so at start-up every temp file is a dead process's. */
  async removeIncomplete(): Promise<void> {
    await this.sweepAbandoned(Number.POSITIVE_INFINITY);
  }

  private sweepAbandonedOnce(): void {
    if (this.swept) return;
    this.swept = true;
    void this.sweepAbandoned().catch(() => undefined);
  }

  private async sweepAbandoned(cutoff = Date.now() - ABANDONED_AFTER_MS): Promise<void> {
    const names = await readdir(this.tempDir).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    });
    for (const name of names) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < cutoff) await rm(path, { force: true });
    }
  }
}
