import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { assetDecider, type AssetState, normalizeMimeType, recordedHash, validateFileName } from '../asset.aggregate.js';
import type { AssetEvent, AssetFile } from '../asset.events.js';
import { AssetFilesService } from '../asset-files.service.js';
import { type AssetDoc, assetDocId, AssetsProjection } from '../assets.projection.js';

/** A file arriving with a request: its bytes can be read once, as they come in. */
export interface IncomingAssetFile {
  fileName: string;
  mimeType: string;
  stream: Readable;
  /** Settles once the whole request is read; rejects if it turns out unusable (a second file, a cut connection). */
  completed: Promise<void>;
}

export interface FileDecision {
  /** The file version the upload will become, or throws (unknown asset) before a byte is stored. */
  fileVersion(state: AssetState): number;
  events(state: AssetState, fileVersion: number, file: AssetFile): AssetEvent[];
}

/**
 * What asset commands add to the generic handler: an upload decides the file version, stores the
 * bytes and only then appends, in that order, because the event must state the size and hash of
 * bytes that are already safe; if the append does not happen, the bytes go again.
 */
@Injectable()
export class AssetCommandRunner {
  private readonly logger = new Logger('Assets');
  /**
   * Two replacements of one asset would both pick the same next file version and write the same
   * blob key. In this process they queue per asset; across processes the upload lease on the asset
   * (shared claims) refuses the second one with 409 while the first is stored.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly writer: EventWriter,
    private readonly projection: AssetsProjection,
    private readonly files: AssetFilesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async writeFile(appId: string, assetId: string, actor: string, incoming: IncomingAssetFile, decision: FileDecision): Promise<AssetDoc> {
    // Checked before any byte is stored: a bad name should not cost a 500 MB upload first.
    const fileName = validateFileName(incoming.fileName);
    const mimeType = normalizeMimeType(incoming.mimeType);
    const stream = streams.child('asset', appId, assetId);
    return this.queued(stream, async () => {
      let stored: { fileVersion: number; sha256: string } | undefined;
      const upload = await Lease.acquire(this.names, claims.assetUpload(appId, assetId), { ttlMs: this.config.nameReservationTtlMs, holder: randomUUID() });
      try {
        await this.writer.handle(
          stream,
          assetDecider,
          async (state) => {
            const fileVersion = decision.fileVersion(state);
            const put = await this.files.store(appId, assetId, fileVersion, incoming.stream, { maxBytes: this.config.maxUploadBytes });
            stored = { fileVersion, sha256: put.sha256 };
            await incoming.completed;
            // Another process may have taken the lease over and be writing this very file version.
            if (upload.lost.aborted) throw upload.lost.reason;
            return decision.events(state, fileVersion, { fileName, mimeType, fileSize: put.size, sha256: put.sha256 });
          },
          { actor, appId },
        );
      } catch (error) {
        if (stored && !upload.lost.aborted) await this.discardUnrecorded(stream, appId, assetId, stored.fileVersion, stored.sha256);
        throw error;
      } finally {
        await upload.release();
      }
      return this.read(appId, assetId);
    });
  }

  async run(appId: string, assetId: string, actor: string, decide: (state: AssetState) => AssetEvent[]): Promise<void> {
    await this.writer.handle(streams.child('asset', appId, assetId), assetDecider, decide, { actor, appId });
  }

  async read(appId: string, assetId: string): Promise<AssetDoc> {
    const doc = await this.projection.assets.get(assetDocId(appId, assetId));
    if (!doc) throw new Error(`Asset ${assetId} was written but is not projected`);
    return doc;
  }

  /**
   * An append can fail after the event was stored (the projection wait timed out, a network store
   * lost the answer). Deleting those bytes would leave history pointing at nothing, so they go only
   * when no event names this file version; when in doubt they stay (an orphan costs disk only).
   */
  private async discardUnrecorded(stream: string, appId: string, assetId: string, fileVersion: number, sha256: string): Promise<void> {
    const key = AssetFilesService.key(appId, assetId, fileVersion);
    try {
      const { state } = await this.writer.load(stream, assetDecider);
      const recorded = recordedHash(state, fileVersion);
      if (recorded !== undefined) {
        // Another writer (only possible from a second process) claimed this file version: its event needs the key.
        if (recorded !== sha256) this.logger.error(`${key} was written by two uploads at once; the bytes may not match the event's SHA-256 ${recorded}`);
        return;
      }
      await this.files.discard(appId, assetId, fileVersion);
    } catch (error) {
      this.logger.warn(`Could not check or remove the unrecorded upload ${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async queued<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }
}
