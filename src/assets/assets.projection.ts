import { Inject, Injectable } from '@nestjs/common';
import type { AppEvent } from '../apps/app.events.js';
import { type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import type { Projection } from '../eventsourcing/projection.js';
import type { ProjectionTx } from '../eventsourcing/projection-tx.js';
import type { AssetEvent, AssetFile } from './asset.events.js';

export interface AssetFileVersionDoc extends AssetFile {
  fileVersion: number;
  created: string;
  createdBy: string;
}

export interface AssetDoc {
  /** `{appId}--{assetId}`: unique even if two apps ever hold the same asset id (clones of one another). */
  id: string;
  assetId: string;
  appId: string;
  fileName: string;
  mimeType: string;
  fileSize: number;
  sha256: string;
  fileVersion: number;
  version: number;
  created: string;
  createdBy: string;
  lastModified: string;
  /** Every file version, oldest first, so `?version=N` downloads know their type and size. */
  versions: AssetFileVersionDoc[];
}

export const assetDocId = (appId: string, assetId: string) => `${appId}--${assetId}`;

@Injectable()
export class AssetsProjection implements Projection {
  readonly name = 'assets';
  readonly assets: ReadCollection<AssetDoc>;

  constructor(@Inject(READ_STORE) store: ReadStore) {
    this.assets = store.collection<AssetDoc>('assets', { indexes: [['appId', 'created']] });
  }

  async apply(stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    const appId = stored.metadata.appId;
    if (!appId) return;
    if (stored.stream.startsWith('app-')) {
      // The app's events stay, but nobody can reach its assets any more: drop their read models.
      if ((stored.type as AppEvent['type']) === 'AppDeleted') this.clearApp(appId, tx);
      return;
    }
    if (!stored.stream.startsWith('asset-')) return;
    const assets = tx.of(this.assets);
    const event = { type: stored.type, data: stored.data } as AssetEvent;
    const { timestamp, actor } = stored.metadata;
    switch (event.type) {
      case 'AssetCreated': {
        const { assetId, fileVersion, ...file } = event.data;
        assets.put({
          id: assetDocId(appId, assetId),
          assetId,
          appId,
          ...file,
          fileVersion,
          version: stored.streamVersion,
          created: timestamp,
          createdBy: actor,
          lastModified: timestamp,
          versions: [{ fileVersion, ...file, created: timestamp, createdBy: actor }],
        });
        return;
      }
      case 'AssetFileReplaced': {
        const existing = await assets.get(assetDocId(appId, assetIdOf(stored.stream)));
        if (!existing) return;
        const { fileVersion, ...file } = event.data;
        // Replace by file version rather than append, so replaying an event leaves the same document.
        const versions = [...existing.versions.filter((v) => v.fileVersion !== fileVersion), { fileVersion, ...file, created: timestamp, createdBy: actor }];
        versions.sort((a, b) => a.fileVersion - b.fileVersion);
        assets.put({ ...existing, ...file, fileVersion, version: stored.streamVersion, lastModified: timestamp, versions });
        return;
      }
      case 'AssetDeleted':
        assets.delete(assetDocId(appId, assetIdOf(stored.stream)));
        return;
      case 'AssetReverted': {
        const assetId = assetIdOf(stored.stream);
        const { fileVersion, created, createdBy, versions, ...file } = event.data;
        assets.put({ id: assetDocId(appId, assetId), assetId, appId, ...file, fileVersion, version: stored.streamVersion, created, createdBy, lastModified: timestamp, versions });
        return;
      }
    }
  }

  clearApp(appId: string, tx: ProjectionTx): void {
    tx.of(this.assets).deleteWhere({ appId });
  }

  clearAll(tx: ProjectionTx): void {
    tx.of(this.assets).deleteWhere({});
  }
}

function assetIdOf(stream: string): string {
  const id = streams.childId('asset', stream);
  if (!id) throw new Error(`${stream} is not an asset stream`);
  return id;
}
