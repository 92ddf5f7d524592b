import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { OnApplicationShutdown } from '@nestjs/common';
import mongoose, { mongo } from 'mongoose';
import { BlobMeter } from './blob-meter.transform.js';
import {
  assertBlobKey,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStore,
  InvalidBlobKeyError,
  normalizeBlobPrefix,
  type PutOptions,
  type PutResult,
  type ByteRange,
} from './blob-store.port.js';

/** Keys never start with a dot, so uploads in progress can never be mistaken for a blob. */
export const GRIDFS_TEMP_PREFIX = '.tmp/';
/**
 * An upload that has written nothing for this long belongs to a process that died mid-put (as
 * for the filesystem store's temp files). Times come from ObjectIds, made by the writing
 * process's clock: the margin also covers clocks of replicas that disagree by minutes.
 */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;
/** Uploads the sweep of orphan chunks looks at per round trip. */
const SWEEP_PAGE = 500;

export const gridFsTempName = (): string => `${GRIDFS_TEMP_PREFIX}${randomUUID()}`;

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * The `files` filter for a normalized prefix: whole segments only (`a/b` must not match `a/bc`),
 * and never a temporary upload. Anchored, so MongoDB can use the `filename` index GridFS creates.
 */
export function gridFsPrefixFilter(prefix: string): { filename: RegExp } {
  if (prefix === '') return { filename: /^[^.]/ };
  return { filename: new RegExp(`^${escapeRegExp(prefix)}(?:/|$)`) };
}

/** The newest revision of a name wins; `_id` breaks ties between uploads finished in the same millisecond. */
export const NEWEST_FIRST = { uploadDate: -1, _id: -1 } as const;

/**
 * Blobs in a GridFS bucket (`blobs`), filename = key, for installations that run on MongoDB and
 * may have no shared disk. GridFS writes the file document only after the last chunk, and the
 * upload is named `.tmp/...` until it is complete and renamed, so a half-written blob never shows.
 */
export class GridFsBlobStore implements BlobStore, OnApplicationShutdown {
  readonly kind = 'gridfs' as const;
  private readonly bucket: mongo.GridFSBucket;
  private readonly files: mongo.Collection<mongo.GridFSFile>;
  private readonly chunks: mongo.Collection<mongo.GridFSChunk>;
  private swept = false;

  constructor(
    db: mongo.Db,
    private readonly options: { bucketName?: string; onClose?: () => Promise<void> } = {},
  ) {
    const bucketName = options.bucketName ?? 'blobs';
    this.bucket = new mongo.GridFSBucket(db, { bucketName });
    this.files = db.collection<mongo.GridFSFile>(`${bucketName}.files`);
    this.chunks = db.collection<mongo.GridFSChunk>(`${bucketName}.chunks`);
  }

  /** Opens a connection of its own, closed with the store (the read store's may not exist yet). */
  static async connect(url: string, bucketName = 'blobs'): Promise<GridFsBlobStore> {
    const connection = await mongoose.createConnection(url).asPromise();
    const db = connection.db;
    if (!db) throw new Error('The MongoDB connection has no database; put one in MONGO_URL (mongodb://host/appvault)');
    return new GridFsBlobStore(db, { bucketName, onClose: () => connection.close() });
  }

  async put(key: string, source: Readable, options: PutOptions = {}): Promise<PutResult> {
    try {
      assertBlobKey(key);
    } catch (error) {
      source.destroy();
      throw error;
    }
    this.sweepAbandonedOnce();
    const meter = new BlobMeter(key, options.maxBytes);
    const upload = this.bucket.openUploadStream(gridFsTempName(), { metadata: { key } });
    const id = upload.id;
    try {
      await pipeline(source, meter, upload);
    } catch (error) {
      await upload.abort().catch(() => undefined);
      await this.deleteById(id).catch(() => undefined);
      throw error;
    }
    const result = meter.result();
    try {
      const uploadDate = upload.gridFSFile?.uploadDate ?? new Date();
      await this.files.updateOne({ _id: id }, { $set: { filename: key, 'metadata.sha256': result.sha256 } });
      // Only strictly older revisions go, so two concurrent puts of one key never delete each other.
      const older = this.files.find(
        { filename: key, $or: [{ uploadDate: { $lt: uploadDate } }, { uploadDate, _id: { $lt: id } }] },
        { projection: { _id: 1 } },
      );
      for await (const file of older) await this.deleteById(file._id);
    } catch (error) {
      await this.deleteById(id).catch(() => undefined);
      throw error;
    }
    return result;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = await this.latest(key);
    if (!file) throw new BlobNotFoundError(key);
    // GridFS takes an exclusive end.
    return this.bucket.openDownloadStream(file._id, range ? { start: range.start, end: range.end + 1 } : undefined);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const file = await this.latest(key);
    return file ? { key, size: file.length, modified: file.uploadDate } : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.latest(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    for await (const file of this.files.find({ filename: key }, { projection: { _id: 1 } })) await this.deleteById(file._id);
  }

  async deletePrefix(prefix: string): Promise<void> {
    const normalized = normalizeBlobPrefix(prefix);
    if (normalized === '') throw new InvalidBlobKeyError('', 'an empty prefix would delete every blob');
    for await (const file of this.files.find(gridFsPrefixFilter(normalized), { projection: { _id: 1 } })) await this.deleteById(file._id);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const normalized = normalizeBlobPrefix(prefix);
    const cursor = this.files
      .find(gridFsPrefixFilter(normalized), { projection: { filename: 1, length: 1, uploadDate: 1 } })
      .sort({ filename: 1, uploadDate: 1 });
    // In the order of the index GridFS keeps ({filename, uploadDate}), so MongoDB never sorts:
    // the newest revision of a name is the last of its run.
    let newest: Pick<mongo.GridFSFile, '_id' | 'filename' | 'length' | 'uploadDate'> | undefined;
    for await (const file of cursor) {
      if (newest && file.filename !== newest.filename) yield { key: newest.filename, size: newest.length, modified: newest.uploadDate };
      if (!newest || file.filename !== newest.filename || isNewer(file, newest)) newest = file;
    }
    if (newest) yield { key: newest.filename, size: newest.length, modified: newest.uploadDate };
  }

  async close(): Promise<void> {
    await this.options.onClose?.();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private async latest(key: string): Promise<mongo.GridFSFile | undefined> {
    assertBlobKey(key);
    return (await this.files.findOne({ filename: key }, { sort: NEWEST_FIRST })) ?? undefined;
  }

  /**
   * File document first, so the blob disappears at once; then its chunks, the first one last, so
   * that chunks a stop part-way leaves behind are found by the sweep (sweepOrphanChunks).
   */
  private async deleteById(id: mongo.ObjectId): Promise<void> {
    await this.files.deleteOne({ _id: id });
    await this.deleteChunks(id);
  }

  private async deleteChunks(id: mongo.ObjectId): Promise<void> {
    await this.chunks.deleteMany({ files_id: id, n: { $gt: 0 } });
    await this.chunks.deleteMany({ files_id: id });
  }

  /**
   * Several instances may share one database, so a young upload may be another instance's live
   * one: only uploads untouched for ABANDONED_AFTER_MS go, finished ones still under a temporary
   * name and, below them, the chunks of uploads that never finished.
   */
  async removeIncomplete(): Promise<void> {
    await this.sweepAbandoned();
  }

  private sweepAbandonedOnce(): void {
    if (this.swept) return;
    this.swept = true;
    void this.sweepAbandoned().catch(() => undefined);
  }

  private async sweepAbandoned(now = Date.now()): Promise<void> {
    const cutoff = new Date(now - ABANDONED_AFTER_MS);
    const abandoned = this.files.find({ filename: { $regex: `^${escapeRegExp(GRIDFS_TEMP_PREFIX)}` }, uploadDate: { $lt: cutoff } }, { projection: { _id: 1 } });
    for await (const file of abandoned) await this.deleteById(file._id);
    await this.sweepOrphanChunks(cutoff);
  }

  /**
   * GridFS writes an upload's file document after its last chunk, so a process killed mid-put
   * leaves chunks that no file document names, invisible and never reclaimed otherwise. Every
   * upload has a first chunk (n = 0), so the uploads are listed from the chunks index
   * ({files_id, n}, which GridFS creates) without reading a chunk; one page at a time, those with
   * no file document are the candidates. An upload id is an ObjectId made when the upload began,
   * and each chunk's id one made when it was written: an upload whose id and newest chunk are both
   * older than the cutoff has stopped writing, and its chunks go (the first last, as in
   * deleteChunks, so a stop part-way leaves it to be found next time). An upload still running in
   * another process keeps writing chunks, so it is never taken. Costs one index read per page and
   * one point read per candidate; the number of uploads, never their bytes. Returns how many
   * uploads' chunks it removed.
   */
  async sweepOrphanChunks(cutoff = new Date(Date.now() - ABANDONED_AFTER_MS)): Promise<number> {
    const before = mongo.ObjectId.createFromTime(Math.floor(cutoff.getTime() / 1000));
    let after: mongo.ObjectId | undefined;
    let removed = 0;
    for (;;) {
      const firsts = await this.chunks
        .find({ files_id: after ? { $gt: after, $lt: before } : { $lt: before }, n: 0 }, { projection: { _id: 0, files_id: 1 } })
        .sort({ files_id: 1 })
        .limit(SWEEP_PAGE)
        .toArray();
      const ids = firsts.map((chunk) => chunk.files_id);
      const complete = new Set((await this.files.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((file) => file._id.toHexString()));
      for (const id of ids) {
        if (complete.has(id.toHexString())) continue;
        const newest = await this.chunks.findOne({ files_id: id }, { sort: { n: -1 }, projection: { _id: 1 } });
        if (newest && newest._id.getTimestamp() >= cutoff) continue;
        await this.deleteChunks(id);
        removed += 1;
      }
      if (ids.length < SWEEP_PAGE) return removed;
      after = ids.at(-1);
    }
  }
}

/** Whether `file` is a later revision than `than`: by upload time, then by id (uploads finished in the same millisecond). */
function isNewer(file: Pick<mongo.GridFSFile, '_id' | 'uploadDate'>, than: Pick<mongo.GridFSFile, '_id' | 'uploadDate'>): boolean {
  const byDate = file.uploadDate.getTime() - than.uploadDate.getTime();
  return byDate > 0 || (byDate === 0 && file._id.toHexString() > than._id.toHexString());
}
