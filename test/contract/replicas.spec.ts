import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config/app-config.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { type Claim, claims, type NameIndex } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { FencedOutError, type ReadCollection } from '../../src/infrastructure/read-store/read-store.port.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { type AppDoc, AppsProjection } from '../../src/apps/apps.projection.js';
import { UsersProjection } from '../../src/users/users.projection.js';
import { appStream } from '../../src/apps/app.aggregate.js';
import { EventCatalog } from '../../src/eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../../src/eventsourcing/projection-engine.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { InstallationService } from '../../src/backup/shared/installation.service.js';

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
  names: NameIndex;
  engine: ProjectionEngine;
  projector: Projector;
  apps: ReadCollection<AppDoc>;
  close(): Promise<void>;
}

/** `names` lets a test put itself between the projector and the claims (a process whose renewals stall). */
function replica(dir: string, options: { names?: (index: SqliteNameIndex) => NameIndex } = {}): Replica {
  const store = new SqliteEventStore(join(dir, 'events.db'));
  const reads = new SqliteReadStore(join(dir, 'read.db'));
  const claimsFile = SqliteNameIndex.open(join(dir, 'claims.db'));
  const names = options.names?.(claimsFile) ?? claimsFile;
  const catalog = new EventCatalog();
  catalog.register(appStream);
  const engine = new ProjectionEngine(reads, store, catalog);
  const appsProjection = new AppsProjection(reads, new UsersProjection(reads));
  engine.register(appsProjection);
  const projector = new Projector(store, reads, names, { nameReservationTtlMs: TTL_MS } as AppConfig, engine);
  return {
    store,
    reads,
    names,
    engine,
    projector,
    apps: appsProjection.apps,
    close: async () => {
      await projector.stop();
      await store.close();
      await claimsFile.close();
      await reads.close();
    },
  };
}

/** Waits (polling) until `condition` holds, or fails naming `what`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a process that died holding the projector lease leaves: a reservation nobody renews. */
async function deadHolder(dir: string): Promise<void> {
  const dead = SqliteNameIndex.open(join(dir, 'claims.db'));
  await dead.reserve(claims.projector(), TTL_MS, 'dead-host:1:deadbeef');
  await dead.close();
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

  /** Appends an app and `updates` label changes through a connection of its own: events nobody has projected yet. */
  const backlog = async (dir: string, updates: number) => {
    const appId = randomUUID();
    const writer = new SqliteEventStore(join(dir, 'events.db'));
    try {
      await writer.append(streams.app(appId), [{ type: 'AppCreated', data: { appId, name: `app-${appId.slice(0, 8)}`, label: 'Label 0', description: '' }, metadata: metadata(appId) }], -1);
      for (let n = 1; n <= updates; n++) {
        await writer.append(streams.app(appId), [{ type: 'AppUpdated', data: { label: `Label ${n}` }, metadata: metadata(appId) }], n - 1);
      }
      return { appId, head: await writer.headPosition() };
    } finally {
      await writer.close();
    }
  };

  /** Makes the replica's next `times` reads of the whole store fail, as a dropped connection would. */
  const failReadAll = (r: Replica, times: number) => {
    const original = r.store.readAll.bind(r.store);
    const injected = { left: times };
    r.store.readAll = (range) => {
      if (injected.left <= 0) return original(range);
      injected.left -= 1;
      return (async function* () {
        yield* [];
        throw new Error('Injected: the connection to the event store dropped');
      })();
    };
    return injected;
  };

  it('takes the projections over although its first catch-up fails once, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    await deadHolder(dir);
    const { appId, head } = await backlog(dir, 30);
    const survivor = replica(dir);
    open.push(survivor);
    const injected = failReadAll(survivor, 1);
    await survivor.projector.start();
    expect(survivor.projector.state).toBe('following');
    await until(() => survivor.projector.state === 'live', 'the survivor projects');
    expect(injected.left).toBe(0);
    expect(survivor.projector.checkpoint).toBe(head);
    expect((await survivor.apps.get(appId))?.label).toBe('Label 30');
    // And it keeps projecting what comes next.
    const { position } = await survivor.store.append(streams.app(appId), [{ type: 'AppUpdated', data: { label: 'After' }, metadata: metadata(appId) }], 30);
    await survivor.projector.waitFor(position, 5_000);
    expect((await survivor.apps.get(appId))?.label).toBe('After');
  });

  it('gives the lease up when its catch-up keeps failing, so another replica projects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    await deadHolder(dir);
    const { appId, head } = await backlog(dir, 10);
    const broken = replica(dir);
    open.push(broken);
    failReadAll(broken, Number.POSITIVE_INFINITY);
    await broken.projector.start();
    // It takes the lease once the dead holder's expires, fails its catch-up three times, lets go.
    await until(() => broken.projector.state === 'catching-up', 'the broken replica takes the lease');
    const healthy = await start(dir);
    await until(() => healthy.projector.state === 'live', 'the healthy replica takes over');
    expect(broken.projector.state).toBe('following');
    expect(healthy.projector.checkpoint).toBe(head);
    expect((await healthy.apps.get(appId))?.label).toBe('Label 10');
    // The broken one follows the healthy one's checkpoint: its commands still read their writes.
    const { position } = await broken.store.append(streams.app(appId), [{ type: 'AppUpdated', data: { label: 'From the broken one' }, metadata: metadata(appId) }], 10);
    await broken.projector.waitFor(position, 5_000);
    expect((await broken.apps.get(appId))?.label).toBe('From the broken one');
  });

  it('gives the lease up when its live projection keeps failing, so another replica projects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    const failing = await start(dir);
    const other = await start(dir);
    expect(failing.projector.state).toBe('live');
    const { appId } = await backlog(dir, 1);
    await other.projector.waitFor(await other.store.headPosition(), 5_000);
    // From now on every event fails to project in this process (a bug, a broken disk: its own trouble).
    const apply = failing.engine.applyEvent.bind(failing.engine);
    failing.engine.applyEvent = async () => {
      throw new Error('Injected: this process cannot project');
    };
    const { position } = await other.store.append(streams.app(appId), [{ type: 'AppUpdated', data: { label: 'Needs projecting' }, metadata: metadata(appId) }], 1);
    await until(() => other.projector.state === 'live', 'the other replica takes over');
    await other.projector.waitFor(position, 5_000);
    expect((await other.apps.get(appId))?.label).toBe('Needs projecting');
    expect(failing.projector.state).toBe('following');
    failing.engine.applyEvent = apply;
  });

  it('refuses the commits of a holder that stalled past its lease, and it steps down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    let renewals: 'pass' | 'stall' = 'pass';
    // Renewals that do not get through, while the process itself runs on: its lease expires unnoticed.
    const stalling = (index: SqliteNameIndex): NameIndex =>
      Object.assign(Object.create(index) as SqliteNameIndex, {
        renew: async (claim: Claim, token: string, ttlMs: number) => {
          if (renewals === 'stall') throw new Error('Injected: the claims store does not answer');
          return index.renew(claim, token, ttlMs);
        },
      });
    const stale = replica(dir, { names: stalling });
    open.push(stale);
    await stale.projector.start();
    const successor = await start(dir);
    const { appId } = await backlog(dir, 1);
    await successor.projector.waitFor(await successor.store.headPosition(), 5_000);
    const refused: unknown[] = [];
    const commit = stale.reads.commit.bind(stale.reads);
    stale.reads.commit = async (...args) => commit(...args).catch((error: unknown) => {
      refused.push(error);
      throw error;
    });
    renewals = 'stall';
    await until(() => successor.projector.state === 'live', 'the successor takes the expired lease over');
    // The stale holder does not know yet: it still takes events and tries to commit them.
    expect(stale.projector.state).toBe('live');
    const { position } = await successor.store.append(streams.app(appId), [{ type: 'AppUpdated', data: { label: 'Projected once, by the successor' }, metadata: metadata(appId) }], 1);
    await until(() => stale.projector.state === 'following', 'the stale holder steps down');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((error) => error instanceof FencedOutError)).toBe(true);
    await successor.projector.waitFor(position, 5_000);
    expect((await successor.apps.get(appId))?.label).toBe('Projected once, by the successor');
    expect(await successor.reads.getCheckpoint('projector')).toBeGreaterThanOrEqual(position);
    // Following now, it reads the successor's checkpoint.
    await stale.projector.waitFor(position, 5_000);
  });

  it('lets a dead holder\'s projector lease expire, then takes it over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-replicas-'));
    await deadHolder(dir);
    const survivor = await start(dir);
    expect(survivor.projector.state).toBe('following');
    const deadline = Date.now() + 10_000;
    while (survivor.projector.state !== 'live' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(survivor.projector.state).toBe('live');
  });
});

/** A replica in a process of its own whose clock is `skewMs` off (see skewed-replica.worker.mjs). */
async function skewedReplica(dir: string, skewMs: number) {
  const child = spawn(process.execPath, ['test/support/skewed-replica.worker.mjs'], {
    env: { ...process.env, REPLICA_DIR: dir, SKEW_MS: String(skewMs), LEASE_TTL_MS: String(TTL_MS) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  // Its log lines go to stdout too; its answers are the JSON ones.
  const next = async (): Promise<{ state: string; pid: number; now: number }> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error('The skewed replica ended');
      if (String(value).startsWith('{')) return JSON.parse(String(value)) as { state: string; pid: number; now: number };
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await next();
  return {
    started,
    state: async () => {
      child.stdin!.write('state\n');
      return (await next()).state;
    },
    stop: async () => {
      child.stdin!.end('stop\n');
      await exited;
    },
  };
}

describe('replicas whose clocks disagree', () => {
  const open: Replica[] = [];
  const children: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await c.stop();
    for (const r of open.splice(0)) await r.close();
  });

  /** Resolves once the projector lease has been renewed `times` times: that many thirds of a lease period went by. */
  const renewals = async (names: NameIndex, times: number) => {
    let last = (await names.lookup(claims.projector()))?.expiresAt;
    for (let seen = 0; seen < times; ) {
      await new Promise((r) => setTimeout(r, 20));
      const now = (await names.lookup(claims.projector()))?.expiresAt;
      if (now !== last) seen += 1;
      last = now;
    }
  };

  it('leaves a holder whose clock runs two minutes behind its live lease, and a replica whose clock runs two minutes ahead takes none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-skew-'));
    const behind = await skewedReplica(dir, -120_000);
    children.push(behind);
    expect(behind.started.state).toBe('live');
    expect(Math.abs(behind.started.now + 120_000 - Date.now())).toBeLessThan(60_000);
    const local = replica(dir);
    open.push(local);
    await local.projector.start();
    expect(local.projector.state).toBe('following');
    // Several lease periods' worth of renewals by the holder and takeover attempts by the other.
    await renewals(local.names, 6);
    expect(local.projector.state).toBe('following');
    expect(await behind.state()).toBe('live');
    expect((await local.names.lookup(claims.projector()))?.holder).toContain(`:${behind.started.pid}:`);
    // It projects for both: a write through the follower shows through the holder's checkpoint.
    const { appId } = await (async () => {
      const appId = randomUUID();
      await local.store.append(streams.app(appId), [{ type: 'AppCreated', data: { appId, name: 'skewed', label: '', description: '' }, metadata: metadata(appId) }], -1);
      return { appId };
    })();
    await local.projector.waitFor(await local.store.headPosition(), 10_000);
    expect(appId).toBeDefined();

    // The holder goes; the local replica takes over, and one whose clock runs ahead joins.
    await behind.stop();
    children.splice(children.indexOf(behind), 1);
    await until(() => local.projector.state === 'live', 'the local replica takes over');
    const ahead = await skewedReplica(dir, 120_000);
    children.push(ahead);
    expect(ahead.started.state).toBe('following');
    await renewals(local.names, 6);
    expect(await ahead.state()).toBe('following');
    expect(local.projector.state).toBe('live');
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
