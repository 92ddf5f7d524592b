import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { buildApp, type BuiltApp, waitForJob } from '../support/fixtures.js';
import { EventStoreStandin } from '../support/esdb-standin/standin-server.js';
import { appVaultEvent } from '../support/esdb-standin/standin-helpers.js';
import { type ApiClient, startServer, type TestServer } from '../support/test-server.js';

// The server on EventStoreDB: EVENTSTORE_URL points at the stand-in server (test/support/
// esdb-standin), which the real @eventstore/db-client talks to over gRPC; the read models stay in
// SQLite. Backups, restores, partial backups, history pages and rollbacks, also when the store
// fails part-way through a rollback's writes, or holds events AppVault did not write.

type Json = Record<string, unknown>;

async function history(client: ApiClient, app: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let after = 0; ; after += 1000) {
    const page = await client.get(`/api/apps/${app}/events?after=${after}&take=1000`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...page.body.items);
    if (page.body.items.length < 1000) return items;
  }
}

/** What a reader sees of an app: schemas, contents (bookkeeping fields aside), assets. */
async function readsOf(client: ApiClient, app: string): Promise<Json> {
  const strip = (item: Json) => Object.fromEntries(Object.entries(item).filter(([key]) => !['version', 'lastModified', 'lastModifiedBy'].includes(key)));
  const schemas = (await client.get(`/api/apps/${app}/schemas`)).body.items as Json[];
  const contents: Record<string, unknown> = {};
  for (const schema of schemas) contents[String(schema.name)] = ((await client.get(`/api/apps/${app}/content/${String(schema.name)}?top=1000`)).body.items as Json[]).map(strip);
  const assets = ((await client.get(`/api/apps/${app}/assets?top=1000`)).body.items as Json[]).map(strip);
  return { schemas: schemas.map(strip), contents, assets };
}

describe('on EventStoreDB (stand-in server, real client): backups, restores, history', () => {
  let standin: EventStoreStandin;
  let server: TestServer;
  let admin: ApiClient;
  let built: BuiltApp;

  beforeAll(async () => {
    standin = await EventStoreStandin.start();
    // A store shared with another program: its events must not stop AppVault.
    standin.seed('orders-1', [{ type: 'OrderPlaced', data: { total: 3 } }]);
    server = await startServer({ EVENTSTORE_URL: standin.url });
    admin = server.admin;
    expect((await admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
    built = await buildApp('shop', [admin], { contents: 40, updates: 20, binaryBytes: 20_000 });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await standin?.close();
  });

  it('backs up, restores under a new name (same reads, same history) and pages the history at any depth', async () => {
    const started = await admin.post('/api/apps/shop/backups', { label: 'on EventStoreDB' });
    const backup = await waitForJob(admin, `/api/apps/shop/backups/${String(started.body.id)}`);
    expect(backup.status, String(backup.error)).toBe('Completed');
    const events = await history(admin, 'shop');
    expect(backup.eventCount).toBe(events.length);

    const restore = await admin.post('/api/restore', { backupId: started.body.id, name: 'shop-copy' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    const restored = await waitForJob(admin, `/api/restore/${String(restore.body.id)}`);
    expect(restored.status, JSON.stringify(restored.log)).toBe('Completed');
    expect(await readsOf(admin, 'shop-copy')).toEqual(await readsOf(admin, 'shop'));
    const copy = await history(admin, 'shop-copy');
    // The same events in the same order (the admin who restores already owns the app: no new Owner event).
    expect(copy.length).toBe(events.length);
    expect(copy.slice(1).map((e) => [e.type, e.data, e.timestamp])).toEqual(events.slice(1).map((e) => [e.type, e.data, e.timestamp]));

    // Pages by number, by cursor and one big page agree; a deep page is the same events.
    const paged: number[] = [];
    let query = 'take=7';
    for (;;) {
      const page = await admin.get(`/api/apps/shop/events?${query}`);
      expect(page.status).toBe(200);
      paged.push(...(page.body.items as Json[]).map((e) => Number(e.number)));
      if (!page.body.next) break;
      query = `take=7&cursor=${encodeURIComponent(String(page.body.next))}`;
    }
    expect(paged).toEqual(events.map((e) => Number(e.number)));
    const deep = await admin.get(`/api/apps/shop/events?after=${events.length - 3}&take=10`);
    expect(deep.body.items).toEqual(events.slice(-3));
  });

  it('takes a partial backup (two reads of the app) and restores it', async () => {
    const started = await admin.post('/api/apps/shop/backups', { include: { schemas: ['notes'], assets: 'none' } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const backup = await waitForJob(admin, `/api/apps/shop/backups/${String(started.body.id)}`);
    expect(backup.status, String(backup.error)).toBe('Completed');
    const restore = await admin.post('/api/restore', { backupId: started.body.id, name: 'notes-only' });
    const restored = await waitForJob(admin, `/api/restore/${String(restore.body.id)}`);
    expect(restored.status, JSON.stringify(restored.log)).toBe('Completed');
    expect(((await admin.get('/api/apps/notes-only/schemas')).body.items as Json[]).map((s) => s.name)).toEqual(['notes']);
  });

  it('purges a restore that fails while appending: its streams and index tombstoned, the name free', async () => {
    const backups = (await admin.get('/api/apps/shop/backups')).body.items as Json[];
    const full = backups.find((b) => b.status === 'Completed' && !b.include)!;
    // The store goes away (for good, as far as this restore is concerned) after some of its writes.
    standin.inject({ on: 'append', stream: /^content-/, kind: 'unavailable', skip: 10, times: 1000 });
    try {
      const restore = await admin.post('/api/restore', { backupId: full.id, name: 'doomed' });
      const failed = await waitForJob(admin, `/api/restore/${String(restore.body.id)}`);
      expect(failed.status).toBe('Failed');
      expect(String(failed.error)).toMatch(/Server Is Not Ready|may or may not be stored/);
    } finally {
      standin.clearFaults();
    }
    expect((await admin.get('/api/apps/doomed')).status).toBe(404);
    const purged = standin.log.records.filter((r) => r.type === '$streamDeleted').map((r) => r.stream);
    const doomedApp = purged.find((s) => s.startsWith('app-'))!;
    expect(doomedApp).toBeDefined();
    const appId = doomedApp.slice(4);
    expect(purged).toContain(`appvault-app-${appId}`);
    for (const record of standin.log.records) if (record.stream.includes(appId) && record.revision !== 9223372036854775807n) expect(standin.log.isTombstoned(record.stream)).toBe(true);
    const again = await admin.post('/api/restore', { backupId: full.id, name: 'doomed' });
    expect((await waitForJob(admin, `/api/restore/${String(again.body.id)}`)).status).toBe('Completed');
  });

  it('answers 413 for a change larger than EventStoreDB takes in one append, and 201 for one that fits', async () => {
    const huge = await admin.post('/api/apps/shop/content/notes', { data: { text: 'x'.repeat(1_100_000) } });
    expect(huge.status, JSON.stringify(huge.body).slice(0, 300)).toBe(413);
    expect(huge.body.message).toMatch(/too large to store: .*more than EventStoreDB accepts in one append/);
    expect((await admin.post('/api/apps/shop/content/notes', { data: { text: 'x'.repeat(800_000) } })).status).toBe(201);
  });

  it('goes on projecting when events another program writes arrive', async () => {
    standin.seed('orders-2', [{ type: 'OrderPlaced', data: Buffer.from('not json') as unknown as Json }]);
    standin.seed(`content-${randomUUID()}--x`, [{ type: 'Foreign', data: { no: 'metadata' } }]);
    const created = await admin.post('/api/apps/shop/content/notes', { data: { text: 'after foreign events' } });
    expect(created.status).toBe(201);
    expect((await admin.get(`/api/apps/shop/content/notes/${String(created.body.id)}`)).body.data).toEqual({ text: 'after foreign events' });
    expect(built.contentIds.length).toBeGreaterThan(0);
  });
});

describe('on EventStoreDB (stand-in server, real client): rollbacks that meet failures', () => {
  let standin: EventStoreStandin;
  let server: TestServer;
  let admin: ApiClient;
  let dataDir: string;
  let backupId: string;
  let target: Json;

  /** Changes to roll back: several contents changed (so the rollback writes several streams). */
  async function change(round: number): Promise<void> {
    const notes = (await admin.get('/api/apps/shop/content/notes?top=100')).body.items as Json[];
    for (const note of notes.slice(0, 6)) expect((await admin.put(`/api/apps/shop/content/notes/${String(note.id)}`, { data: { text: `changed in round ${round}` } })).status).toBe(200);
    expect((await admin.post('/api/apps/shop/content/notes', { data: { text: `new in round ${round}` } })).status).toBe(201);
  }
  async function rollback(): Promise<Json> {
    const started = await admin.post('/api/apps/shop/rollback', { backupId });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return waitForJob(admin, `/api/apps/shop/rollbacks/${String(started.body.id)}`);
  }
  /** The content streams the next rollback writes, in the order it writes them. */
  function contentStreams(): string[] {
    return [...new Set(standin.log.records.filter((r) => r.stream.startsWith('content-') && !r.type.startsWith('$')).map((r) => r.stream))];
  }
  const messages = (job: Json) => (job.log as { message: string }[]).map((l) => l.message);

  beforeAll(async () => {
    standin = await EventStoreStandin.start();
    server = await startServer({ EVENTSTORE_URL: standin.url });
    dataDir = server.dataDir;
    admin = server.admin;
    expect((await admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
    expect((await admin.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
    for (let i = 0; i < 8; i += 1) expect((await admin.post('/api/apps/shop/content/notes', { data: { text: `note ${i}` } })).status).toBe(201);
    const started = await admin.post('/api/apps/shop/backups', {});
    backupId = String((await waitForJob(admin, `/api/apps/shop/backups/${String(started.body.id)}`)).id);
    target = await readsOf(admin, 'shop');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await standin?.close();
  });

  it('rolls back stream by stream and says so', async () => {
    await change(1);
    const job = await rollback();
    expect(job.status, String(job.error)).toBe('Completed');
    expect(messages(job).some((m) => /stream by stream \(EventStoreDB has no transaction across streams/.test(m))).toBe(true);
    expect(messages(job).some((m) => /one transaction/.test(m))).toBe(false);
    expect(await readsOf(admin, 'shop')).toEqual(target);
  });

  it('finishes by writing on when another process writes to stream k meanwhile: re-planned, complete, and the log says so', async () => {
    await change(2);
    const k = contentStreams()[3]!;
    // Another replica writes to stream k just before the rollback's own write reaches it.
    standin.inject({ on: 'append', stream: k, before: () => void standin.seed(k, [appVaultEvent('ContentUpdated', { data: { text: 'by another process' } }, streams.appOf(k))]) });
    const job = await rollback();
    expect(job.status, String(job.error)).toBe('Completed');
    expect(messages(job).some((m) => m.startsWith(`Another process wrote to ${k} while the rollback was writing`))).toBe(true);
    expect(job.partial).toBeNull();
    expect(await readsOf(admin, 'shop')).toEqual(target);
  });

  it('fails cleanly, saying nothing was changed, when the conflict comes before anything is stored', async () => {
    await change(3);
    const before = await readsOf(admin, 'shop');
    const eventsBefore = (await history(admin, 'shop')).length;
    // Another process writes to whichever stream the rollback writes first, just before it does.
    standin.inject({ on: 'append', stream: /^content-/, before: (_log, stream) => void standin.seed(stream, [appVaultEvent('ContentUpdated', { data: { text: 'by another process' } }, streams.appOf(stream))]) });
    const job = await rollback();
    standin.clearFaults();
    expect(job.status).toBe('Failed');
    expect(job.error).toBe('The app changed while the rollback was being planned; nothing was changed. Start the rollback again.');
    expect(job.partial).toBeNull();
    const after = (await history(admin, 'shop')).length;
    // Only the other process's event was added; none of the rollback's.
    expect(after).toBe(eventsBefore + 1);
    expect((await readsOf(admin, 'shop')).schemas).toEqual(before.schemas);
  });

  for (const kind of ['not-leader', 'drop', 'deadline'] as const) {
    it(`sends a write again when the store did not confirm it (${kind}), stored once, and completes`, async () => {
      await change(4);
      const k = contentStreams()[2]!;
      standin.inject({ on: 'append', stream: k, kind, afterWrite: kind === 'deadline' });
      const job = await rollback();
      standin.clearFaults();
      expect(job.status, String(job.error)).toBe('Completed');
      expect(messages(job).some((m) => /sending it again with the same event ids/.test(m))).toBe(true);
      expect(await readsOf(admin, 'shop')).toEqual(target);
      // Nothing doubled: each stream holds the rollback's revert once.
      const reverts = standin.log.records.filter((r) => r.stream === k && r.type === 'ContentReverted');
      expect(new Set(reverts.map((r) => r.id)).size).toBe(reverts.length);
    });
  }

  it('ends Failed and partly applied (saying which) when it cannot write on, and the next start finishes it', async () => {
    await change(5);
    const k = contentStreams()[2]!;
    // Another process keeps writing to stream k: every fresh plan meets a conflict there.
    standin.inject({ on: 'append', stream: k, times: 10, before: () => void standin.seed(k, [appVaultEvent('ContentUpdated', { data: { text: 'by another process' } }, streams.appOf(k))]) });
    const job = await rollback();
    standin.clearFaults();
    expect(job.status).toBe('Failed');
    expect(job.error).toMatch(/^The rollback was left partly applied: \d+ of its \d+ writes \(one per stream, the marker last\) are stored, the write to content-/);
    expect(job.error).toMatch(/The next start of the server finishes the rollback if nobody writes to the app meanwhile/);
    expect(job.partial).toMatchObject({ failedStream: k, uncertain: false, recovery: null });
    expect((job.partial as Json).writtenStreams).toBeGreaterThan(0);
    expect(job.appendedEvents).toBeGreaterThan(0);
    // The read models show what is stored: some notes rolled back, not all.
    expect(await readsOf(admin, 'shop')).not.toEqual(target);

    await server.close();
    server = await startServer({ EVENTSTORE_URL: standin.url }, dataDir);
    admin = server.admin;
    const settled = (await admin.get(`/api/apps/shop/rollbacks/${String(job.id)}`)).body as Json;
    expect(settled.status).toBe('Completed');
    expect(messages(settled).at(-1)).toMatch(/^The rollback was left partly applied and nobody wrote to the app since; it was finished at start-up/);
    expect(settled.partial).toMatchObject({ recovery: 'finished' });
    expect(await readsOf(admin, 'shop')).toEqual(target);
  });
});
