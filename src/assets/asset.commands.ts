import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { Lease } from '../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import { conflict, notFound } from '../platform/domain-errors.js';
import { EventWriter } from '../eventsourcing/event-writer.service.js';
import { type CommandPlan, type CommandPlanner, StreamCommand } from '../eventsourcing/stream-command.handler.js';
import { type AssetCommand, assetDecider, type AssetState, isAssetId, nextFileVersion, normalizeMimeType, recordedHash, validateFileName } from './asset.aggregate.js';
import type { AssetEvent } from './asset.events.js';
import { AssetFilesService } from './asset-files.service.js';
import { type AssetDoc, assetDocId, AssetsProjection } from './assets.projection.js';

/**
 * Asset commands as the CommandBus carries them, and what the assets module adds to the one
 * command cycle (StreamCommandHandler, src/eventsourcing/stream-command.handler.ts).
 */

/** A file arriving with a request: its bytes can be read once, as they come in. */
export interface IncomingAssetFile {
  fileName: string;
  mimeType: string;
  stream: Readable;
  /** Settles once the whole request is read; rejects if it turns out unusable (a second file, a cut connection). */
  completed: Promise<void>;
}

/** The id is chosen when the command is planned, before the upload, because it names the blob the bytes stream into. */
export class CreateAssetCommand extends StreamCommand<AssetDoc> {
  constructor(
    readonly appId: string,
    readonly file: IncomingAssetFile,
    readonly actor: string,
  ) {
    super();
  }
}

export class ReplaceAssetFileCommand extends StreamCommand<AssetDoc> {
  constructor(
    readonly appId: string,
    readonly assetId: string,
    readonly file: IncomingAssetFile,
    readonly actor: string,
  ) {
    super();
  }
}

/** Only the read model forgets the asset; its file versions stay for the history (see AssetFilesService). */
export class DeleteAssetCommand extends StreamCommand<void> {
  constructor(
    readonly appId: string,
    readonly assetId: string,
    readonly actor: string,
  ) {
    super();
  }
}

type AssetRequest = CreateAssetCommand | ReplaceAssetFileCommand | DeleteAssetCommand;

/** An id that could never have been issued is unknown, not malformed: it must not reach a stream name or blob key. */
function knownShape(assetId: string): void {
  if (!isAssetId(assetId)) throw notFound(`Asset "${assetId}" does not exist`);
}

/**
 * An upload decides the file version, stores the bytes and only then appends, in that order,
 * because the event must state the size and hash of bytes that are already safe; if the append
 * does not happen, the bytes go again.
 */
@Injectable()
export class AssetCommandPlanner implements CommandPlanner<AssetRequest, AssetState, AssetCommand, AssetEvent> {
  private readonly logger = new Logger('Assets');
  readonly commands = [CreateAssetCommand, ReplaceAssetFileCommand, DeleteAssetCommand];
  readonly decider = assetDecider;
  /**
   * Two replacements of one asset would both pick the same next file version and write the same
   * blob key. In this process they take turns per asset; across processes the upload lease on the
   * asset (shared claims) refuses the second one with 409 while the first is stored.
   */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    private readonly writer: EventWriter,
    private readonly projection: AssetsProjection,
    private readonly files: AssetFilesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async plan(request: AssetRequest): Promise<CommandPlan<AssetState, AssetCommand, AssetEvent>> {
    const { appId, actor } = request;
    if (request instanceof DeleteAssetCommand) {
      knownShape(request.assetId);
      return { stream: streams.child('asset', appId, request.assetId), actor, appId, command: { type: 'DeleteAsset', data: {} }, retryOnConflict: true };
    }
    const created = request instanceof CreateAssetCommand;
    if (!created) knownShape(request.assetId);
    const assetId = created ? randomUUID() : request.assetId;
    // Checked before any byte is stored: a bad name should not cost a 500 MB upload first.
    const fileName = validateFileName(request.file.fileName);
    const mimeType = normalizeMimeType(request.file.mimeType);
    const stream = streams.child('asset', appId, assetId);
    const endTurn = await this.takeTurn(stream);
    let upload: Lease;
    try {
      upload = await Lease.acquire(this.names, claims.assetUpload(appId, assetId), { ttlMs: this.config.nameReservationTtlMs, holder: randomUUID() });
    } catch (error) {
      endTurn();
      throw error;
    }
    let stored: { fileVersion: number; sha256: string } | undefined;
    return {
      stream,
      actor,
      appId,
      prepare: async (state) => {
        const fileVersion = created ? newAsset(state, assetId) : nextFileVersion(state);
        const put = await this.files.store(appId, assetId, fileVersion, request.file.stream, { maxBytes: this.config.maxUploadBytes });
        stored = { fileVersion, sha256: put.sha256 };
        await request.file.completed;
        // Another process may have taken the lease over and be writing this very file version.
        if (upload.lost.aborted) throw upload.lost.reason;
        const file = { fileName, mimeType, fileSize: put.size, sha256: put.sha256 };
        return created ? { type: 'CreateAsset', data: { assetId, file } } : { type: 'ReplaceAssetFile', data: { fileVersion, file } };
      },
      answer: () => this.read(appId, assetId),
      settle: async (failed) => {
        try {
          if (failed && stored && !upload.lost.aborted) await this.discardUnrecorded(stream, appId, assetId, stored.fileVersion, stored.sha256);
          await upload.release();
        } finally {
          endTurn();
        }
      },
    };
  }

  private async read(appId: string, assetId: string): Promise<AssetDoc> {
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

  /** Waits until the uploads to this asset before it have ended; the returned function ends this one's turn. */
  private async takeTurn(key: string): Promise<() => void> {
    const previous = this.turns.get(key);
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    this.turns.set(key, mine);
    if (previous) await previous;
    return () => {
      end();
      if (this.turns.get(key) === mine) this.turns.delete(key);
    };
  }
}

/** A new asset's file is version 0; its stream must not exist yet. */
function newAsset(state: AssetState, assetId: string): number {
  if (state.status !== 'new') throw conflict(`Asset ${assetId} exists already`);
  return 0;
}
