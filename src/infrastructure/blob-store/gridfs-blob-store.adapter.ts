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
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

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
    return file ? { key, size: file.length } : undefined;
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
      .find(gridFsPrefixFilter(normalized), { projection: { filename: 1, length: 1 } })
      .sort({ filename: 1, ...NEWEST_FIRST });
    let previous: string | undefined;
    for await (const file of cursor) {
      if (file.filename === previous) continue;
      previous = file.filename;
      yield { key: file.filename, size: file.length };
    }
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

  /** File document first, so the blob disappears at once; then its chunks. */
  private async deleteById(id: mongo.ObjectId): Promise<void> {
    await this.files.deleteOne({ _id: id });
    await this.chunks.deleteMany({ files_id: id });
  }

  /**
   * Several instances may share one database, so a young temp upload may be another instance's
   * live one: only those untouched for ABANDONED_AFTER_MS go.
   */
  async removeIncomplete(): Promise<void> {
    await this.sweepAbandoned();
  }

  private sweepAbandonedOnce(): void {
    if (this.swept) return;
    this.swept = true;
    void this.sweepAbandoned().catch(() => undefined);
  }

  private async sweepAbandoned(): Promise<void> {
    const cutoff = new Date(Date.now() - ABANDONED_AFTER_MS);
    const abandoned = this.files.find({ filename: { $regex: `^${escapeRegExp(GRIDFS_TEMP_PREFIX)}` }, uploadDate: { $lt: cutoff } }, { projection: { _id: 1 } });
    for await (const file of abandoned) await this.deleteById(file._id);
  }
}
