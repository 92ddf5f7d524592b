import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { BLOB_STORE, BlobTooLargeError, type BlobStore, type PutResult } from '../infrastructure/blob-store/blob-store.port.js';
import { tooLarge } from '../platform/domain-errors.js';
import { assetFileKey, assetFilesPrefix } from './asset.aggregate.js';

/**
 * Where asset bytes live: one blob per file version, `assets/{appId}/{assetId}/{fileVersion}`
 * (assetFileKey), written once and never changed. Deleting an asset (or its app) keeps them on purpose: the events
 * stay, so a backup of the app's history must still find every file version they name. Only the
 * cleanup of a failed restore removes an app's files (deleteAppFiles).
 *
 * Backups and the commands use this service rather than the blob store; restores write through
 * their sink under the same keys (assetFileKey).
 */
@Injectable()
export class AssetFilesService {
  constructor(@Inject(BLOB_STORE) private readonly blobs: BlobStore) {}

  static key(appId: string, assetId: string, fileVersion: number): string {
    return assetFileKey(appId, assetId, fileVersion);
  }

  /** Rejects with BlobNotFoundError when the bytes are gone (a backup records them as missing). */
  open(appId: string, assetId: string, fileVersion: number): Promise<Readable> {
    return this.blobs.get(AssetFilesService.key(appId, assetId, fileVersion));
  }

  /**
   * Streams one file version into place and reports its size and SHA-256. Over `maxBytes` it
   * fails with a 413-kind DomainError and nothing is stored.
   */
  async store(appId: string, assetId: string, fileVersion: number, source: Readable, options: { maxBytes?: number } = {}): Promise<PutResult> {
    try {
      return await this.blobs.put(AssetFilesService.key(appId, assetId, fileVersion), source, options);
    } catch (error) {
      if (error instanceof BlobTooLargeError) {
        throw tooLarge(`The file is larger than the upload limit of ${error.maxBytes} bytes (MAX_UPLOAD_BYTES); nothing was stored`);
      }
      throw error;
    }
  }

  /** The size in bytes, undefined when the bytes are gone. */
  async size(appId: string, assetId: string, fileVersion: number): Promise<number | undefined> {
    return (await this.blobs.stat(AssetFilesService.key(appId, assetId, fileVersion)))?.size;
  }

  exists(appId: string, assetId: string, fileVersion: number): Promise<boolean> {
    return this.blobs.exists(AssetFilesService.key(appId, assetId, fileVersion));
  }

  /** Only for bytes no event refers to (an upload whose event was never appended). */
  async discard(appId: string, assetId: string, fileVersion: number): Promise<void> {
    await this.blobs.delete(AssetFilesService.key(appId, assetId, fileVersion));
  }

  /** Removes every file of an app: the cleanup of a restore that failed, never a normal delete. */
  async deleteAppFiles(appId: string): Promise<void> {
    await this.blobs.deletePrefix(assetFilesPrefix(appId));
  }
}
