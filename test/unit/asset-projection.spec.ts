import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssetEvent } from '../../src/assets/asset.events.js';
import { assetDocId, AssetsProjection } from '../../src/assets/assets.projection.js';
import type { StoredEvent } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { ProjectionTx } from '../../src/eventsourcing/projection-tx.js';

const appId = 'app-1111';
const assetId = 'asset-2222';
const sha = (c: string) => c.repeat(64);
let position = 0;

function stored(event: AssetEvent | { type: string; data: Record<string, unknown> }, streamVersion: number, stream = `asset-${appId}--${assetId}`, actor = 'u1'): StoredEvent {
  position += 1;
  return {
    type: event.type,
    data: event.data as Record<string, unknown>,
    stream,
    streamVersion,
    position,
    metadata: { appId, actor, timestamp: new Date(Date.UTC(2030, 0, 1, 0, 0, position)).toISOString(), schemaVersion: 1 },
  };
}

const created = stored({ type: 'AssetCreated', data: { assetId, fileVersion: 0, fileName: 'a.txt', mimeType: 'text/plain', fileSize: 3, sha256: sha('a') } }, 0);
const replaced = stored({ type: 'AssetFileReplaced', data: { fileVersion: 1, fileName: 'b.png', mimeType: 'image/png', fileSize: 9, sha256: sha('b') } }, 1, undefined, 'u2');

describe('assets projection', () => {
  let store: SqliteReadStore;
  let projection: AssetsProjection;
  beforeEach(() => {
    store = new SqliteReadStore(join(mkdtempSync(join(tmpdir(), 'appvault-assets-')), 'read.db'));
    projection = new AssetsProjection(store);
  });
  afterEach(async () => {
    await store.close();
  });

  /** Each event in its own unit of work, committed, as a live slice of one event would be. */
  const apply = async (...events: StoredEvent[]) => {
    for (const event of events) {
      const tx = new ProjectionTx();
      await projection.apply(event, tx);
      await store.commit(tx.writes());
    }
  };
  const stage = async (work: (tx: ProjectionTx) => void) => {
    const tx = new ProjectionTx();
    work(tx);
    await store.commit(tx.writes());
  };

  it('builds the asset with every file version; replaying events changes nothing', async () => {
    await apply(created, replaced);
    const once = await projection.assets.get(assetDocId(appId, assetId));
    await apply(replaced);
    await apply(created);
    await apply(replaced);
    expect(await projection.assets.get(assetDocId(appId, assetId))).toEqual(once);
    expect(once).toMatchObject({
      assetId,
      appId,
      fileName: 'b.png',
      mimeType: 'image/png',
      fileSize: 9,
      sha256: sha('b'),
      fileVersion: 1,
      version: 1,
      created: created.metadata.timestamp,
      createdBy: 'u1',
      lastModified: replaced.metadata.timestamp,
    });
    expect(once!.versions.map((v) => [v.fileVersion, v.mimeType, v.fileSize, v.createdBy])).toEqual([
      [0, 'text/plain', 3, 'u1'],
      [1, 'image/png', 9, 'u2'],
    ]);
  });

  it('forgets deleted assets, and all assets of a deleted app', async () => {
    await apply(created);
    await apply(stored({ type: 'AssetDeleted', data: {} }, 1));
    expect(await projection.assets.get(assetDocId(appId, assetId))).toBeUndefined();

    await apply(created);
    await apply(stored({ type: 'AppDeleted', data: { name: 'x' } }, 5, `app-${appId}`));
    expect(await projection.assets.count({ appId })).toBe(0);
  });

  it('clears one app or everything', async () => {
    await apply(created);
    await stage((tx) => projection.clearApp('another-app', tx));
    expect(await projection.assets.count({})).toBe(1);
    await stage((tx) => projection.clearApp(appId, tx));
    expect(await projection.assets.count({})).toBe(0);
    await apply(created);
    await stage((tx) => projection.clearAll(tx));
    expect(await projection.assets.count({})).toBe(0);
  });
});
