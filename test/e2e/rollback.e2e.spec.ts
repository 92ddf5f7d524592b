import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupsService } from '../../src/backup/create/backups.service.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { type ApiClient, type Cast, createCast, startServer, type TestServer } from '../support/test-server.js';

/** Bookkeeping a rollback cannot (and need not) give back: versions count on, modification times move. */
const BOOKKEEPING = ['version', 'lastModified', 'lastModifiedBy'];
const strip = (item: Record<string, unknown>) => Object.fromEntries(Object.entries(item).filter(([key]) => !BOOKKEEPING.includes(key)));

/** Everything a reader of the app sees through the read endpoints, bytes of every asset included. */
async function readsOf(client: ApiClient, app: string, schemaNames: string[]) {
  const schemas = (await client.get(`/api/apps/${app}/schemas`)).body.items as Record<string, unknown>[];
  const contents: Record<string, unknown> = {};
  for (const name of schemaNames) {
    const res = await client.get(`/api/apps/${app}/content/${name}?top=1000`);
    contents[name] = res.status === 200 ? (res.body.items as Record<string, unknown>[]).map(strip) : res.status;
  }
  const assets = (await client.get(`/api/apps/${app}/assets?top=1000`)).body.items as Record<string, unknown>[];
  const bytes: Record<string, string> = {};
  for (const asset of assets) bytes[String(asset.id)] = (await client.bytes(`/api/apps/${app}/assets/${String(asset.id)}/content`)).bytes.toString('base64');
  const appView = (await client.get(`/api/apps/${app}`)).body;
  return { schemas: schemas.map(strip), contents, assets: assets.map(strip), bytes, app: { id: appView.id, name: appView.name, contributors: appView.contributors } };
}

describe('rollback in place', () => {
  let server: TestServer;
  let cast: Cast;
  let owner: ApiClient;
  let backupId: string;
  let before: Awaited<ReturnType<typeof readsOf>>;
  let changed: Awaited<ReturnType<typeof readsOf>>;
  let eventsBefore: { number: number; type: string; stream: string }[];
  let rollbackId: string;
  const names = ['products', 'notes', 'extras'];
  const ids: Record<string, string> = {};

  const history = async () => (await owner.get('/api/apps/shop/events?take=1000')).body.items as { number: number; type: string; stream: string }[];
  async function rollback(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const started = await owner.post('/api/apps/shop/rollback', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForJob(owner, `/api/apps/shop/rollbacks/${String(started.body.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    return done;
  }

  beforeAll(async () => {
    server = await startServer();
    cast = await createCast(server, 'shop');
    owner = cast.owner.client;
    const post = async (path: string, body: unknown) => {
      const res = await owner.post(path, body);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res.body;
    };
    ids.a1 = (await post('/api/apps/shop/assets', fileForm(Buffer.from('the first picture'), 'one.txt', 'text/plain'))).id as string;
    await post('/api/apps/shop/schemas', { name: 'products', fields: [{ name: 'title', type: 'String', required: true }, { name: 'picture', type: 'Assets' }] });
    await post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    for (const key of ['p1', 'p2', 'p3']) ids[key] = (await post('/api/apps/shop/content/products', { data: { title: `Product ${key}`, picture: [ids.a1] } })).id as string;
    ids.n1 = (await post('/api/apps/shop/content/notes', { data: { text: 'a note' } })).id as string;
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p2}/status`, { status: 'Published' })).status).toBe(200);
    const backup = await owner.post('/api/apps/shop/backups', { label: 'before the changes' });
    backupId = String((await waitForJob(owner, `/api/apps/shop/backups/${String(backup.body.id)}`)).id);
    before = await readsOf(owner, 'shop', names);

    // The changes: contents created, updated, deleted and re-statused; an asset replaced and one
    // added; a field added; a schema created and one deleted (with its contents).
    ids.p4 = (await post('/api/apps/shop/content/products', { data: { title: 'Product p4' } })).id as string;
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p1}`, { data: { title: 'Product p1, renamed', picture: [] } })).status).toBe(200);
    expect((await owner.delete(`/api/apps/shop/content/products/${ids.p3}`)).status).toBe(204);
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p2}/status`, { status: 'Archived' })).status).toBe(200);
    expect((await owner.put(`/api/apps/shop/assets/${ids.a1}/content`, fileForm(Buffer.from('the second picture'), 'one-v2.txt', 'text/plain'))).status).toBe(200);
    ids.a2 = (await post('/api/apps/shop/assets', fileForm(Buffer.from('a later asset'), 'two.txt', 'text/plain'))).id as string;
    // Required: contents written before it lack it, and a rollback forward writes them so again.
    await post('/api/apps/shop/schemas/products/fields', { name: 'price', type: 'Number', required: true });
    await post('/api/apps/shop/schemas', { name: 'extras', fields: [{ name: 'x', type: 'String' }] });
    ids.x1 = (await post('/api/apps/shop/content/extras', { data: { x: 'extra' } })).id as string;
    expect((await owner.delete('/api/apps/shop/schemas/notes')).status).toBe(204);
    changed = await readsOf(owner, 'shop', names);
    eventsBefore = await history();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('reports in a dry run, per kind, what a rollback would create, change and delete, writing nothing', async () => {
    const res = await owner.post('/api/apps/shop/rollback', { backupId, dryRun: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ dryRun: true, app: { name: 'shop' }, target: { backupId, untilEvent: null, until: null } });
    const changes = res.body.changes as Record<string, Record<string, string[]>>;
    expect(changes.schemas).toEqual({ created: ['notes'], changed: ['products'], deleted: ['extras'] });
    expect(changes.contents!.created!.sort()).toEqual([ids.p3, ids.n1].sort());
    expect(changes.contents!.changed!.sort()).toEqual([ids.p1, ids.p2].sort());
    expect(changes.contents!.deleted).toEqual([ids.p4]);
    expect(changes.assets).toEqual({ created: [], changed: [ids.a1], deleted: [ids.a2] });
    expect(res.body.counts).toEqual({ created: 3, changed: 4, deleted: 3 });
    expect(await history()).toEqual(eventsBefore);
    expect((await owner.get('/api/apps/shop/rollbacks')).body.total).toBe(0);
    expect(await readsOf(owner, 'shop', names)).toEqual(changed);
  });

  it('brings every read back to the backup, keeps the app id, its backups and its history, and takes a safety backup first', async () => {
    const job = await rollback({ backupId });
    rollbackId = String(job.id);
    expect(job).toMatchObject({ appName: 'shop', target: { backupId }, counts: { created: 3, changed: 4, deleted: 3 }, percent: 100, phase: 'done' });
    expect(await readsOf(owner, 'shop', names)).toEqual(before);

    const backups = (await owner.get('/api/apps/shop/backups')).body.items as { id: string; trigger: string; status: string; label: string }[];
    const safety = backups.find((b) => b.id === job.safetyBackupId)!;
    expect(safety).toMatchObject({ trigger: 'safety', status: 'Completed' });
    expect(safety.label).toContain(rollbackId);
    expect(backups.some((b) => b.id === backupId)).toBe(true);

    const after = await history();
    expect(after.slice(0, eventsBefore.length)).toEqual(eventsBefore);
    expect(after.length).toBe(eventsBefore.length + Number(job.appendedEvents));
    expect(after.at(-1)!.type).toBe('AppRolledBack');
    const added = new Set(after.slice(eventsBefore.length).map((e) => e.type));
    expect([...added].sort()).toEqual(['AppRolledBack', 'AssetDeleted', 'AssetReverted', 'ContentDeleted', 'ContentReverted', 'SchemaDeleted', 'SchemaReverted']);
    // The rollback's events are the acting user's.
    const full = (await owner.get(`/api/apps/shop/events?after=${eventsBefore.length}&take=1000`)).body.items as { actor: string }[];
    expect(new Set(full.map((e) => e.actor))).toEqual(new Set([cast.owner.id]));
    // New writes go on from the state rolled back to: the asset gets a file version it never had.
    const replaced = await owner.put(`/api/apps/shop/assets/${ids.a1}/content`, fileForm(Buffer.from('a third picture'), 'three.txt', 'text/plain'));
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    expect(replaced.body.fileVersion).toBe(2);
    // Version 1 came after the backup, so reads do not list it (as then); its bytes stay for a rollback to it.
    expect((await owner.bytes(`/api/apps/shop/assets/${ids.a1}/content?version=1`)).status).toBe(404);
    expect((await owner.bytes(`/api/apps/shop/assets/${ids.a1}/content?version=0`)).bytes.toString()).toBe('the first picture');
    // The rollback deleted schema "extras", so its name is free again, as after any delete.
    const again = await owner.post('/api/apps/shop/schemas', { name: 'extras', fields: [{ name: 'y', type: 'Number' }] });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
  });

  it('rolls the rollback back to the changed state, and the safety backup restores the state before it', async () => {
    const job = await rollback({ untilEvent: eventsBefore.length });
    expect(job.target).toMatchObject({ untilEvent: eventsBefore.length, event: eventsBefore.length });
    // The newer "extras" goes and the older one, with its contents, comes back under the name (notes goes again).
    expect(job.changes).toMatchObject({ schemas: { created: ['extras'], deleted: expect.arrayContaining(['notes', 'extras']) } });
    expect((await owner.post('/api/apps/shop/schemas', { name: 'extras', fields: [] })).status).toBe(409);
    expect(await readsOf(owner, 'shop', names)).toEqual(changed);
    expect((await owner.bytes(`/api/apps/shop/assets/${ids.a1}/content?version=1`)).bytes.toString()).toBe('the second picture');

    const first = (await owner.get(`/api/apps/shop/rollbacks/${rollbackId}`)).body;
    const restore = await server.admin.post('/api/restore', { backupId: first.safetyBackupId, name: 'shop-safety' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    expect((await waitForJob(server.admin, `/api/restore/${String(restore.body.id)}`)).status).toBe('Completed');
    const copy = await readsOf(server.admin, 'shop-safety', names);
    expect({ ...copy, app: null }).toEqual({ ...changed, app: null });
    const list = (await owner.get('/api/apps/shop/rollbacks')).body;
    expect(list.total).toBe(2);

    // A backup now holds the rollbacks' events; its restore passes every check and reads the same.
    const later = await owner.post('/api/apps/shop/backups', { label: 'after two rollbacks' });
    const laterId = String((await waitForJob(owner, `/api/apps/shop/backups/${String(later.body.id)}`)).id);
    const again = await server.admin.post('/api/restore', { backupId: laterId, name: 'shop-rolled' });
    const restored = await waitForJob(server.admin, `/api/restore/${String(again.body.id)}`);
    expect(restored.status, String(restored.error)).toBe('Completed');
    expect({ ...(await readsOf(server.admin, 'shop-rolled', names)), app: null }).toEqual({ ...(await readsOf(owner, 'shop', names)), app: null });
  });

  it('refuses what it cannot do, with a message that says why', async () => {
    const other = await owner.post('/api/apps', { name: 'other' });
    expect(other.status).toBe(201);
    const foreign = await owner.post('/api/apps/other/backups', {});
    const foreignId = String((await waitForJob(owner, `/api/apps/other/backups/${String(foreign.body.id)}`)).id);
    const partial = await owner.post('/api/apps/shop/backups', { include: { schemas: ['products'] } });
    const partialId = String((await waitForJob(owner, `/api/apps/shop/backups/${String(partial.body.id)}`)).id);
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ backupId: foreignId }, 400, /is a backup of app "other", not of "shop"; a rollback brings an app back to one of its own backups/],
      [{ backupId: partialId }, 400, /is partial \(schema products; all their contents; assets: all\); a rollback needs a backup of the whole app/],
      [{ backupId: 'no-such-backup' }, 404, /Backup no-such-backup does not exist/],
      [{ backupId, untilEvent: 3 }, 400, /give exactly one of backupId, untilEvent or until/],
      [{}, 400, /give exactly one of backupId, untilEvent or until/],
      [{ untilEvent: 100_000 }, 400, /^untilEvent is 100000, but app "shop" has \d+ events$/],
      [{ until: '2000-01-01T00:00:00Z' }, 400, /^until: app "shop" has no event at or before 2000-01-01T00:00:00Z$/],
      [{ until: 'yesterday' }, 400, /^until: must be an ISO-8601 time/],
      [{ backupId, force: true }, 400, /unknown field "force"/],
    ];
    for (const [body, status, message] of cases) {
      const res = await owner.post('/api/apps/shop/rollback', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(String(res.body.message), JSON.stringify(body)).toMatch(message);
    }
    for (const who of [cast.developer, cast.editor, cast.reader]) expect((await who.client.post('/api/apps/shop/rollback', { backupId, dryRun: true })).status).toBe(403);
    expect((await cast.stranger.client.get('/api/apps/shop/rollbacks')).status).toBe(403);
    const dry = await server.admin.post('/api/apps/shop/rollback', { backupId, dryRun: true });
    expect(dry.status).toBe(200);

    // A backup stored before jobs recorded their position: the archive's manifest still has it.
    const jobs = server.app.get(BackupsService).jobs;
    const { position: _position, ...older } = (await jobs.get(backupId))!;
    await jobs.put(older);
    const fromArchive = await owner.post('/api/apps/shop/rollback', { backupId, dryRun: true });
    expect(fromArchive.status, JSON.stringify(fromArchive.body)).toBe(200);
    expect(fromArchive.body.target).toEqual(dry.body.target);
  });
});

describe('safety backups and the per-app limit', () => {
  let server: TestServer;
  afterAll(async () => {
    await server?.close();
  });

  it('does not count a rollback’s safety backup against MAX_BACKUPS_PER_APP until a later backup of the app succeeds', async () => {
    server = await startServer({ MAX_BACKUPS_PER_APP: '2' });
    const { owner } = await createCast(server, 'shop');
    const backup = async () => {
      const res = await owner.client.post('/api/apps/shop/backups', {});
      if (res.status === 202) expect((await waitForJob(owner.client, `/api/apps/shop/backups/${String(res.body.id)}`)).status).toBe('Completed');
      return res;
    };
    const first = await backup();
    expect(first.status).toBe(202);
    const rolled = await owner.client.post('/api/apps/shop/rollback', { backupId: first.body.id });
    expect(rolled.status).toBe(202);
    expect((await waitForJob(owner.client, `/api/apps/shop/rollbacks/${String(rolled.body.id)}`)).status).toBe('Completed');
    // One manual backup and one safety backup stored: a second manual one still fits the limit of 2.
    expect((await backup()).status).toBe(202);
    // Now the safety backup is older than a good backup and counts: 3 stored, none more.
    const refused = await backup();
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe('App "shop" has 3 manual backups (1 of them safety backups taken before rollbacks), the limit is 2; delete an old one first');
  });
});

