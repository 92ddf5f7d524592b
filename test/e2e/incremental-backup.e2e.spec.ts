import { copyFileSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveChain } from '../../src/archive/archive-chain.js';
import type { EventCursor } from '../../src/archive/archive-reader.js';
import { BLOB_STORE, type BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { BackupsService } from '../../src/backup/create/backups.service.js';
import { BackupScheduler } from '../../src/backup/schedule/backup-scheduler.service.js';
import { appHistory, appReads } from '../support/app-reads.js';
import { buildApp, type BuiltApp, fileForm, waitForJob } from '../support/fixtures.js';
import { type ApiClient, type Cast, createCast, createUser, startServer, type TestServer, tempDir } from '../support/test-server.js';
import { readZipBuffer } from '../support/zip-inspect.js';

type Json = Record<string, unknown>;

/** A restored app's history as its archive held it (the restore's own Owner grant after it left out), its id and name written as APP and NAME, so two restores of one state compare. */
async function restoredHistory(client: ApiClient, app: string, events: number): Promise<unknown> {
  const { id } = (await client.get(`/api/apps/${app}`)).body as { id: string };
  return JSON.parse(JSON.stringify((await appHistory(client, app)).slice(0, events)).replaceAll(id, 'APP').replaceAll(`"${app}"`, '"NAME"'));
}

async function backup(client: ApiClient, body: Json = {}): Promise<Json> {
  const started = await client.post('/api/apps/shop/backups', body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const done = await waitForJob(client, `/api/apps/shop/backups/${String(started.body.id)}`);
  expect(done.status, String(done.error)).toBe('Completed');
  return done;
}

async function restore(admin: ApiClient, body: Json): Promise<Json> {
  const started = await admin.post('/api/restore', body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return waitForJob(admin, `/api/restore/${String(started.body.id)}`);
}

async function manifestOf(client: ApiClient, backupId: string): Promise<{ manifest: Json & { base?: Json; counts: Json }; entries: Map<string, Buffer> }> {
  const archive = await client.bytes(`/api/apps/shop/backups/${backupId}/archive`);
  expect(archive.status).toBe(200);
  const entries = await readZipBuffer(archive.bytes);
  return { manifest: JSON.parse(entries.get('manifest.json')!.toString('utf8')), entries };
}

describe('incremental backups', () => {
  let server: TestServer;
  let cast: Cast;
  let owner: ApiClient;
  let built: BuiltApp;
  let full: Json;
  const chain: Json[] = [];
  let last: Json;

  beforeAll(async () => {
    server = await startServer();
    cast = await createCast(server, 'shop');
    owner = cast.owner.client;
    built = await buildApp('shop', [owner, cast.developer.client], { contents: 40, updates: 30, binaryBytes: 50_000 });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('writes only the events after its base, the file versions they introduce and the users they name; base + 6 increments restore to what one full backup restores', async () => {
    full = await backup(owner);
    expect(full).toMatchObject({ kind: 'full', incremental: false, base: null, baseArchive: null, chain: null });
    let previous = full;
    let total = (await appHistory(owner, 'shop')).length;
    expect(full.eventCount).toBe(total);
    for (let round = 1; round <= 6; round++) {
      // A day's work: contents written and changed, a file version added, and now and then a new person or a schema change.
      const created = await owner.post('/api/apps/shop/content/products', { data: { title: `Round ${round}`, images: [built.assets[0]!.id] } });
      expect(created.status).toBe(201);
      expect((await owner.put(`/api/apps/shop/content/products/${built.contentIds[24 + round]!}`, { data: { title: `Changed in round ${round}`, price: round } })).status).toBe(200);
      const asset = built.assets[round % built.assets.length]!;
      const bytes = Buffer.from(`round ${round} bytes of ${asset.id}\n`.repeat(50));
      expect((await owner.put(`/api/apps/shop/assets/${asset.id}/content`, fileForm(bytes, `round-${round}.txt`, 'text/plain'))).status).toBe(200);
      asset.versions.push({ bytes, mimeType: 'text/plain' });
      let newcomer: string | undefined;
      if (round === 3) {
        newcomer = `round-${round}@example.com`;
        const person = await createUser(server, newcomer);
        expect((await owner.post('/api/apps/shop/contributors', { email: newcomer, role: 'Editor' })).status).toBe(200);
        expect((await person.client.post('/api/apps/shop/content/notes', { data: { text: 'written by the newcomer' } })).status).toBe(201);
      }
      if (round === 5) expect((await owner.post('/api/apps/shop/schemas/notes/fields', { name: 'mood', type: 'String' })).status).toBeLessThan(300);

      const done = await backup(owner, { incremental: true });
      const now = (await appHistory(owner, 'shop')).length;
      // `base` is the base's id (the shared contract's word); `baseArchive` what the increment checks its base by.
      expect(done).toMatchObject({ kind: 'incremental', incremental: true, base: previous.id, chain: { full: full.id, depth: round } });
      expect(done.baseArchive).toEqual({ id: previous.id, sha256: previous.sha256, position: previous.position, events: total });
      expect(done.eventCount).toBe(now - total);

      const { manifest, entries } = await manifestOf(owner, String(done.id));
      expect(manifest.backupId).toBe(done.id);
      expect(manifest.base).toEqual({ backupId: previous.id, sha256: previous.sha256, position: previous.position, events: total });
      // Only this round's events, numbered on from the base's chain.
      const events = [...entries.keys()].filter((name) => name.startsWith('events/')).flatMap((name) => entries.get(name)!.toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Json));
      expect(events.map((event) => event.number)).toEqual(Array.from({ length: now - total }, (_, i) => total + 1 + i));
      // Only the file version this round added.
      expect([...entries.keys()].filter((name) => name.startsWith('assets/'))).toEqual([`assets/${asset.id}/${asset.versions.length - 1}`]);
      expect(entries.get(`assets/${asset.id}/${asset.versions.length - 1}`)!.equals(bytes)).toBe(true);
      // users.json: the people these events name, not everyone the app ever had.
      const users = (JSON.parse(entries.get('users.json')!.toString('utf8')) as { email: string }[]).map((user) => user.email).sort();
      expect(users).toEqual(round === 3 ? ['owner@example.com', newcomer!].sort() : ['owner@example.com']);
      chain.push(done);
      previous = done;
      total = now;
    }
    last = chain.at(-1)!;
    // The chain's archives are small beside the full one.
    for (const link of chain) expect(Number(link.sizeBytes)).toBeLessThan(Number(full.sizeBytes) / 4);

    // A dry run rehearses the chain as the restore reads it.
    const dry = await server.admin.post('/api/restore', { backupId: last.id, name: 'dry', dryRun: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ valid: true, error: null, events: { inArchive: total, toRestore: total } });

    const whole = await backup(owner);
    expect(whole).toMatchObject({ kind: 'full', incremental: false, base: null, baseArchive: null });
    const fromChain = await restore(server.admin, { backupId: last.id, name: 'from-chain' });
    expect(fromChain.status, String(fromChain.error)).toBe('Completed');
    expect(fromChain.restoredEvents).toBe(total);
    const fromFull = await restore(server.admin, { backupId: whole.id, name: 'from-full' });
    expect(fromFull.status, String(fromFull.error)).toBe('Completed');
    expect(JSON.stringify((await server.admin.get(`/api/restore/${String(fromChain.id)}`)).body.log)).toContain('Checking the chain of 7 archives');

    expect(await appReads(server.admin, 'from-chain', built.assets)).toEqual(await appReads(server.admin, 'from-full', built.assets));
    expect(await restoredHistory(server.admin, 'from-chain', total)).toEqual(await restoredHistory(server.admin, 'from-full', total));
    // And both read as the app itself (every file version byte-equal included).
    const source = await appReads(server.admin, 'shop', built.assets);
    const restored = await appReads(server.admin, 'from-chain', built.assets);
    expect(restored.files).toEqual(source.files);
    expect(restored.contents).toEqual(source.contents);
  }, 300_000);

  it('reads a chain on from any cursor, as a resumed restore does: from that event file on, the events a whole read gives', async () => {
    const dir = tempDir();
    const links = [];
    for (const [index, backupOf] of [full, ...chain].entries()) {
      const file = join(dir, `${index}.zip`);
      writeFileSync(file, (await owner.bytes(`/api/apps/shop/backups/${String(backupOf.id)}/archive`)).bytes);
      links.push({ file, storedSha256: String(backupOf.sha256), label: String(backupOf.id) });
    }
    const content = await ArchiveChain.open(links, { maxExpandedBytes: 1024 * 1024 * 1024 });
    try {
      await content.scan(() => undefined);
      const whole: number[] = [];
      // Where each event file starts, as a journal notes it (the cursor while its events are read).
      const starts = new Map<number, { cursor: EventCursor; index: number }>();
      for await (const event of content.events()) {
        const cursor = content.cursor;
        if (!starts.has(cursor.file)) starts.set(cursor.file, { cursor, index: whole.length });
        whole.push(event.number);
      }
      expect(whole).toEqual(Array.from({ length: Number(last.baseArchive && (last.baseArchive as Json).events) + Number(last.eventCount) }, (_, i) => i + 1));
      // Every link with events has its files numbered on from the links before it.
      expect(starts.size).toBe([full, ...chain].filter((link) => Number(link.eventCount) > 0).length);
      for (const { cursor, index } of starts.values()) {
        const tail: number[] = [];
        for await (const event of content.events(cursor)) tail.push(event.number);
        expect(tail).toEqual(whole.slice(index));
      }
      await expect(
        (async () => {
          for await (const _ of content.events({ file: starts.size + 1, first: whole.length + 1 })) void _;
        })(),
      ).rejects.toThrow(`The chain has no event file ${starts.size + 1} to resume from`);
    } finally {
      content.close();
    }
  });

  it('refuses to delete a base of a kept increment (409), and deletes from the newest increment down', async () => {
    const refused = await owner.delete(`/api/apps/shop/backups/${String(full.id)}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`Backup ${String(full.id)} is the base of incremental backup(s) ${String(chain[0]!.id)}`);
    expect((await owner.get(`/api/apps/shop/backups/${String(full.id)}`)).status).toBe(200);
  });

  it('refuses a chain whose base was altered, naming it, and leaves nothing behind', async () => {
    const blobs = server.app.get<BlobStore>(BLOB_STORE);
    const baseFile = (await blobs.localFile!(`backups/${String(chain[2]!.id)}.zip`))!;
    const saved = join(tempDir(), 'base.zip');
    copyFileSync(baseFile, saved);
    const apps = (await server.admin.get('/api/apps')).body.total;
    const users = (await server.admin.get('/api/users')).body.total;
    try {
      const bytes = readFileSync(baseFile);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      writeFileSync(baseFile, bytes);
      const job = await restore(server.admin, { backupId: last.id, name: 'altered' });
      expect(job.status).toBe('Failed');
      expect(job.error).toContain(`The base backup ${String(chain[2]!.id)} of this incremental has been altered: its SHA-256 differs`);
      const dry = await server.admin.post('/api/restore', { backupId: last.id, name: 'altered', dryRun: true });
      expect(dry.body).toMatchObject({ valid: false, error: expect.stringContaining(`The base backup ${String(chain[2]!.id)} of this incremental has been altered`) });
      expect((await server.admin.get('/api/apps/altered')).status).toBe(404);
      expect((await server.admin.get('/api/apps')).body.total).toBe(apps);
      expect((await server.admin.get('/api/users')).body.total).toBe(users);
    } finally {
      copyFileSync(saved, baseFile);
    }
  });

  it('refuses an uploaded incremental whose bases this installation lacks, by name, before anything is written', async () => {
    const other = await startServer();
    try {
      const archive = await owner.bytes(`/api/apps/shop/backups/${String(last.id)}/archive`);
      const form = new FormData();
      form.append('name', 'orphan');
      form.append('file', new Blob([new Uint8Array(archive.bytes)], { type: 'application/zip' }), 'orphan.zip');
      const started = await other.admin.post('/api/restore', form);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(other.admin, `/api/restore/${String(started.body.id)}`);
      expect(job.status).toBe('Failed');
      expect(job.error).toContain(`The base backup ${String(chain[4]!.id)} of this incremental is missing`);
      expect((await other.admin.get('/api/apps')).body.total).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('rolls back to an incremental backup: the app reads as it did when the increment was taken', async () => {
    const target = chain[1]!;
    const started = await owner.post('/api/apps/shop/rollback', { backupId: target.id });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForJob(owner, `/api/apps/shop/rollbacks/${String(started.body.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    // The restore of that increment's chain is the app as it was then.
    const then = await restore(server.admin, { backupId: target.id, name: 'then' });
    expect(then.status, String(then.error)).toBe('Completed');
    // A rollback writes revert events: versions and times move on, the data is that of then.
    const state = async (app: string) => {
      const reads = await appReads(server.admin, app, built.assets);
      const contents = Object.fromEntries(Object.entries(reads.contents).map(([schema, items]) => [schema, items.map(({ id, data, status }) => ({ id, data, status }))]));
      return { contents, schemas: reads.schemas.map(({ name, fields }) => ({ name, fields })), files: reads.files };
    };
    const expected = await state('then');
    expect(Object.values(expected.contents).flat().length).toBeGreaterThan(30);
    expect(await state('shop')).toEqual(expected);
  });

  it('refuses a rollback to, and a restore of, an increment whose base is gone, naming the base', async () => {
    // The record of the first increment lost (a store restored from an older copy, say): its increments cannot be replayed.
    await server.app.get(BackupsService).jobs.delete(String(chain[0]!.id));
    const rollback = await owner.post('/api/apps/shop/rollback', { backupId: chain[2]!.id });
    expect(rollback.status).toBe(409);
    expect(rollback.body.message).toContain(`The base backup ${String(chain[0]!.id)} of incremental backup ${String(chain[1]!.id)} is missing`);
    const job = await restore(server.admin, { backupId: chain[2]!.id, name: 'gone' });
    expect(job.status).toBe('Failed');
    expect(job.error).toContain(`The base backup ${String(chain[0]!.id)} of this incremental is missing`);
    expect((await server.admin.get('/api/apps/gone')).status).toBe(404);
  });
});

describe('incremental chains are bounded', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ MAX_INCREMENTAL_CHAIN: '2' });
    const cast = await createCast(server, 'shop');
    await cast.owner.client.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('takes a full backup once the chain has MAX_INCREMENTAL_CHAIN increments, and says why', async () => {
    const admin = server.admin;
    const note = async (text: string) => expect((await admin.post('/api/apps/shop/content/notes', { data: { text } })).status).toBe(201);
    const first = await backup(admin, { incremental: true });
    expect(first).toMatchObject({ kind: 'full', incremental: false, base: null });
    expect(first.warnings).toEqual(['Full backup: the app has no Completed backup of the whole app for an incremental to continue']);
    await note('one');
    const second = await backup(admin, { incremental: true });
    await note('two');
    const third = await backup(admin, { incremental: { base: second.id } });
    expect([second.chain, third.chain]).toMatchObject([{ full: first.id, depth: 1 }, { full: first.id, depth: 2 }]);
    await note('three');
    const fourth = await backup(admin, { incremental: true });
    expect(fourth).toMatchObject({ kind: 'full', incremental: false, base: null, baseArchive: null });
    expect(fourth.warnings).toEqual([`Full backup: the chain from full backup ${String(first.id)} has 2 increments already, the most it may have (2)`]);
    // Nothing new since: an incremental holds no event, and restores all the same.
    const empty = await backup(admin, { incremental: true });
    expect(empty).toMatchObject({ kind: 'incremental', incremental: true, eventCount: 0, base: fourth.id, baseArchive: { id: fourth.id, sha256: fourth.sha256 } });
    const job = await restore(admin, { backupId: empty.id, name: 'same' });
    expect(job.status, String(job.error)).toBe('Completed');
    expect((await admin.get('/api/apps/same/content/notes')).body.total).toBe(3);
  });

  it('refuses what cannot be continued: a partial request, a base of another app, a setting out of range', async () => {
    const admin = server.admin;
    expect((await admin.post('/api/apps/shop/backups', { incremental: true, include: { schemas: ['notes'] } })).body.message).toContain('a partial backup cannot be incremental');
    expect((await admin.post('/api/apps/shop/backups', { incremental: { base: 'no-such-backup' } })).status).toBe(404);
    expect((await admin.post('/api/apps/shop/backups', { incremental: 'yes' })).status).toBe(400);
    await expect(startServer({ MAX_INCREMENTAL_CHAIN: '0' })).rejects.toThrow(/MAX_INCREMENTAL_CHAIN must be an integer between 1 and 1000/);
  });
});

describe('a policy of incremental backups ("full weekly, incremental daily")', () => {
  let server: TestServer;
  const YEARLY = '0 0 1 1 *';

  beforeAll(async () => {
    server = await startServer();
    const cast = await createCast(server, 'shop');
    await cast.owner.client.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('runs incremental from its last backup, full after maxIncrements, and retention keeps the bases of kept increments, saying so', async () => {
    const admin = server.admin;
    expect((await admin.put('/api/apps/shop/backup-policy', { schedule: YEARLY, include: { schemas: ['notes'] }, incremental: { maxIncrements: 2 } })).body.message).toContain('a partial backup cannot be incremental');
    const set = await admin.put('/api/apps/shop/backup-policy', { schedule: YEARLY, keepLast: 2, incremental: { maxIncrements: 2 } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.incremental).toEqual({ maxIncrements: 2, maxDays: null });
    // What maxIncrements 2 comes to in the contract's words: every third run is full.
    expect(set.body.fullEvery).toBe(3);
    const scheduler = server.app.get(BackupScheduler);
    const made: Json[] = [];
    for (const year of [2031, 2032, 2033, 2034]) {
      expect((await admin.post('/api/apps/shop/content/notes', { data: { text: `in ${year}` } })).status).toBe(201);
      await scheduler.runDue(new Date(`${year}-01-01T00:00:01Z`));
      await scheduler.idle();
      const policy = (await admin.get('/api/apps/shop/backup-policy')).body;
      made.push((await admin.get(`/api/backups/${String(policy.lastBackupId)}`)).body);
    }
    expect(made.map((b) => [b.status, b.incremental, (b.chain as { depth: number } | null)?.depth ?? 0])).toEqual([
      ['Completed', false, 0],
      ['Completed', true, 1],
      ['Completed', true, 2],
      ['Completed', false, 0],
    ]);
    // keepLast 2 keeps the last full and the second increment; the increment's chain (its full and the first increment) stays with it.
    const left = ((await admin.get('/api/apps/shop/backups')).body.items as Json[]).map((b) => b.id).sort();
    expect(left).toEqual(made.map((b) => b.id).sort());
    const policy = (await admin.get('/api/apps/shop/backup-policy')).body;
    expect(policy.lastWarning).toContain(`because kept incremental backups continue them (their bases): ${String(made[0]!.id)}, ${String(made[1]!.id)}`);
  });

  it('takes every fullEvery-th scheduled backup full and the ones between incremental, each continuing the one before; fullEvery 1 takes every run full', async () => {
    const admin = server.admin;
    expect((await admin.post('/api/apps', { name: 'diary' })).status).toBe(201);
    expect((await admin.post('/api/apps/diary/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
    const put = (body: Json) => admin.put('/api/apps/diary/backup-policy', { schedule: YEARLY, ...body });
    // Refused, each saying why: a count that is no whole number ≥ 1, one that disagrees with maxIncrements, one past the installation's bound, a partial policy.
    for (const fullEvery of [0, 2.5, '3']) expect((await put({ fullEvery })).status, String(fullEvery)).toBe(400);
    const disagree = await put({ fullEvery: 3, incremental: { maxIncrements: 5 } });
    expect(disagree.status).toBe(400);
    expect(disagree.body.message).toBe('fullEvery: 3 means a full backup then 2 incremental ones (incremental.maxIncrements 2), but incremental.maxIncrements is 5; give one of them, or make them agree');
    expect((await put({ fullEvery: 1, incremental: { maxDays: 7 } })).body.message).toContain('fullEvery: 1 takes every scheduled backup full, but incremental asks for incremental runs');
    expect((await put({ fullEvery: 32 })).body.message).toContain('this installation allows at most 30 (MAX_INCREMENTAL_CHAIN), so set fullEvery to at most 31');
    expect((await put({ fullEvery: 3, include: { schemas: ['notes'] } })).body.message).toContain('fullEvery: a partial backup cannot be incremental');
    // Agreeing with maxIncrements is fine; alone it is the same policy.
    expect((await put({ fullEvery: 3, incremental: { maxIncrements: 2, maxDays: 400 } })).body).toMatchObject({ fullEvery: 3, incremental: { maxIncrements: 2, maxDays: 400 } });
    const set = await put({ fullEvery: 3 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ fullEvery: 3, incremental: { maxIncrements: 2, maxDays: null } });
    expect((await admin.get('/api/apps/diary/backup-policy')).body).toMatchObject({ fullEvery: 3, incremental: { maxIncrements: 2, maxDays: null } });

    const scheduler = server.app.get(BackupScheduler);
    const runs = async (years: number[]): Promise<Json[]> => {
      const made: Json[] = [];
      for (const year of years) {
        expect((await admin.post('/api/apps/diary/content/notes', { data: { text: `in ${year}` } })).status).toBe(201);
        await scheduler.runDue(new Date(`${year}-01-01T00:00:01Z`));
        await scheduler.idle();
        const policy = (await admin.get('/api/apps/diary/backup-policy')).body;
        const done = (await admin.get(`/api/apps/diary/backups/${String(policy.lastBackupId)}`)).body as Json;
        expect(done.status, String(done.error)).toBe('Completed');
        made.push(done);
      }
      return made;
    };
    const made = await runs([2041, 2042, 2043, 2044, 2045, 2046, 2047]);
    expect(made.map((b) => b.kind)).toEqual(['full', 'incremental', 'incremental', 'full', 'incremental', 'incremental', 'full']);
    // Each incremental continues the run before it: `base` is that backup's id.
    expect(made.map((b) => b.base)).toEqual([null, made[0]!.id, made[1]!.id, null, made[3]!.id, made[4]!.id, null]);
    expect(made.map((b) => (b.baseArchive as Json | null)?.id ?? null)).toEqual(made.map((b) => b.base));
    expect(made.map((b) => b.incremental)).toEqual(made.map((b) => b.kind === 'incremental'));

    const always = await put({ fullEvery: 1 });
    expect(always.body).toMatchObject({ fullEvery: 1, incremental: null });
    const after = await runs([2048, 2049]);
    expect(after.map((b) => [b.kind, b.base, b.baseArchive])).toEqual([
      ['full', null, null],
      ['full', null, null],
    ]);
  });
});
