import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config/app-config.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { claims } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { appStream } from '../../src/apps/app.aggregate.js';
import { EventCatalog } from '../../src/platform/events/event-catalog.service.js';
import { ProjectionEngine } from '../../src/platform/projection/projection-engine.service.js';
import { Projector } from '../../src/platform/projection/projector.service.js';
import { InstallationService } from '../../src/backup/installation.service.js';

/**
 * Two AppVault processes on the same stores, as replicas on EventStoreDB and MongoDB run: here
 * each "process" has its own connections to one set of SQLite files (the server itself refuses a
 * second process on a DATA_DIR, so only the pieces are shared). Exactly one projects; the other
 * follows its saved checkpoint and takes over when it goes.
 */
const TTL_MS = 600;

interface Replica {
  store: SqliteEventStore;
  reads: SqliteReadStore;
  names: SqliteNameIndex;
  projector: Projector;
  close(): Promise<void>;
}

function replica(dir: string): Replica {
  const store = new SqliteEventStore(join(dir, 'events.db'));
  const reads = new SqliteReadStore(join(dir, 'read.db'));
  const names = SqliteNameIndex.open(join(dir, 'claims.db'));
  const catalog = new EventCatalog();
  catalog.register(appStream);
  const engine = new ProjectionEngine(reads, store, catalog);
  const projector = new Projector(store, reads, names, { nameReservationTtlMs: TTL_MS } as AppConfig, engine);
  return {
    store,
    reads,
    names,
    projector,
    close: async () => {
      await projector.stop();
      await store.close();
      await names.close();
      await reads.close();
    },
  };
}

const metadata = (appId: string) => ({ appId, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 });

describe('replicas: one projecting process, others following its checkpoint', () => {
  const open: Replica[] = [];
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
  });
  const start = async (dir: string) => {
    const r = replica(dir);
    open.push(r);
    await r.projector.start();
    return r;
  };

  it('lets only the lease holder project; the other reads its writes through the saved checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    const first = await start(dir);
    const second = await start(dir);
    expect(first.projector.state).toBe('live');
    expect(second.projector.state).toBe('following');
    expect((await first.names.lookup(claims.projector()))?.holder).toBeDefined();
    await expect(second.projector.assertProjects('A restore')).rejects.toThrow(/must run on the AppVault process that runs the projections/);
    await expect(second.projector.rebuildAll()).rejects.toThrow(/does not; send the request to that process/);

    // A command on the follower appends through its own connection and waits for its position.
    const appId = '0f6e2c9a-1b7d-4c3e-9a5f-2d8b7c6e1a01';
    const { position } = await second.store.append(streams.app(appId), [{ type: 'AppCreated', data: { appId, name: 'one', label: '', description: '' }, metadata: metadata(appId) }], -1);
    // The SQLite follower notices appends of another connection by polling; the write lands all the same.
    await second.projector.waitFor(position, 10_000);
    expect(first.projector.checkpoint).toBeGreaterThanOrEqual(position);
    expect(await second.reads.getCheckpoint('projector')).toBeGreaterThanOrEqual(position);
  });

  it('hands the projections over when the projecting process stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    const first = await start(dir);
    const second = await start(dir);
    expect(second.projector.state).toBe('following');
    await first.close();
    open.splice(open.indexOf(first), 1);
    const deadline = Date.now() + 10_000;
    while (second.projector.state !== 'live' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(second.projector.state).toBe('live');
    expect(second.projector.projects).toBe(true);
    const appId = '0f6e2c9a-1b7d-4c3e-9a5f-2d8b7c6e1a02';
    const { position } = await second.store.append(streams.app(appId), [{ type: 'AppCreated', data: { appId, name: 'two', label: '', description: '' }, metadata: metadata(appId) }], -1);
    await second.projector.waitFor(position, 5_000);
  });

  it('lets a dead holder\'s projector lease expire, then takes it over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    // A process that died holding the lease: nobody renews it.
    const dead = SqliteNameIndex.open(join(dir, 'claims.db'));
    await dead.reserve(claims.projector(), TTL_MS, 'dead-host:1:deadbeef');
    await dead.close();
    const survivor = await start(dir);
    expect(survivor.projector.state).toBe('following');
    const deadline = Date.now() + 10_000;
    while (survivor.projector.state !== 'live' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(survivor.projector.state).toBe('live');
  });
});

describe('replicas: the installation document', () => {
  it('gives two replicas starting together on empty stores the same installation id and link secret', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'appvault-installation-'));
      const stores = [new SqliteReadStore(join(dir, 'read.db')), new SqliteReadStore(join(dir, 'read.db'))];
      try {
        const services = stores.map((store) => new InstallationService(store, {} as AppConfig));
        const ids = await Promise.all(services.map((service) => service.id()));
        const secrets = await Promise.all(services.map((service) => service.linkSecret()));
        expect(ids[1]).toBe(ids[0]);
        expect(secrets[1]).toBe(secrets[0]);
        expect(secrets[0]).toMatch(/^[\w-]{43}$/);
        // And a replica started later reads the same ones.
        const later = new InstallationService(stores[1]!, {} as AppConfig);
        expect(await later.id()).toBe(ids[0]);
        expect(await later.linkSecret()).toBe(secrets[0]);
      } finally {
        for (const store of stores) await store.close();
      }
    }
  });

  it('keeps the link secret an earlier version stored in the installation document', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-installation-'));
    const store = new SqliteReadStore(join(dir, 'read.db'));
    try {
      await store.collection('installation').put({ id: 'installation', installationId: 'old-id', created: '2026-01-01T00:00:00.000Z', linkSecret: 'kept-secret' } as { id: string });
      const service = new InstallationService(store, {} as AppConfig);
      expect(await service.id()).toBe('old-id');
      expect(await service.linkSecret()).toBe('kept-secret');
    } finally {
      await store.close();
    }
  });
});
