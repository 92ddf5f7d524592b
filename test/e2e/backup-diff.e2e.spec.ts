import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../support/cli-runner.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { type ApiClient, type Cast, createCast, createUser, startServer, tempDir, type TestServer } from '../support/test-server.js';

interface Value {
  json: string;
  truncated: boolean;
  length: number;
}
interface Item {
  kind: string;
  id: string;
  change: 'added' | 'removed' | 'changed';
  label: string;
  labelBefore: string | null;
  properties: { name: string; change: string; before: Value | null; after: Value | null }[];
  fields: string[];
  versionsAdded: { version: string; value: Value }[];
  versionsRemoved: { version: string; value: Value }[];
}
interface Diff {
  from: Record<string, unknown>;
  to: Record<string, unknown>;
  summary: Record<string, { added: number; removed: number; changed: number }>;
  total: number;
  items: Item[];
  next: string | null;
  schemas: Groups;
  contents: Groups;
  assets: Groups;
  contributors: Groups;
}
interface Groups {
  added: Item[];
  removed: Item[];
  changed: Item[];
}
const KINDS = ['schemas', 'contents', 'assets', 'contributors'] as const;

const LONG = `${'long text '.repeat(60)}end`;
/** A value with a character a terminal acts on (right-to-left override): the CLI must print it escaped. */
const HOSTILE = 'evil\u202etxt.exe';
/** A file version as the diff shows it: its SHA-256, as JSON. */
const sha256 = (text: string) => `"${createHash('sha256').update(text).digest('hex')}"`;

describe('diffs of backups: against another backup and against the live app', () => {
  let server: TestServer;
  let cast: Cast;
  let owner: ApiClient;
  let dir: string;
  const ids: Record<string, string> = {};
  let a: string;
  let b: string;
  let newbie: { id: string; client: ApiClient };

  const post = async (client: ApiClient, path: string, body: unknown) => {
    const res = await client.post(path, body);
    expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body as Record<string, unknown>;
  };
  const backup = async (body: Record<string, unknown> = {}) => {
    const started = await post(owner, '/api/apps/shop/backups', body);
    const done = await waitForJob(owner, `/api/apps/shop/backups/${String(started.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    return { id: String(done.id), started };
  };
  const diff = async (from: string, query: string, client = owner) => {
    const res = await client.get(`/api/apps/shop/backups/${from}/diff?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as Diff;
  };
  /** DATA_DIR/tmp's diff files: what a kept diff keeps (its changes), and anything else (which must not stay). */
  const diffFiles = () => {
    const names = readdirSync(join(server.dataDir, 'tmp')).filter((name) => name.includes('diff'));
    return { kept: names.filter((name) => /^diff-[0-9a-f-]{36}-changes\.sqlite$/.test(name)), other: names.filter((name) => !/^diff-[0-9a-f-]{36}-changes\.sqlite$/.test(name)) };
  };
  const find = (d: Diff, kind: string, id: string) => d.items.find((item) => item.kind === kind && item.id === id);

  beforeAll(async () => {
    dir = tempDir('appvault-diff-');
    server = await startServer();
    cast = await createCast(server, 'shop');
    owner = cast.owner.client;
    newbie = await createUser(server, 'newbie@example.com');

    // Backup a.
    await post(owner, '/api/apps/shop/schemas', { name: 'products', fields: [{ name: 'title', type: 'String', required: true }] });
    await post(owner, '/api/apps/shop/schemas', { name: 'gone', fields: [{ name: 'x', type: 'String' }] });
    ids.products = String((await owner.get('/api/apps/shop/schemas/products')).body.id);
    ids.gone = String((await owner.get('/api/apps/shop/schemas/gone')).body.id);
    for (const key of ['p1', 'p2', 'p3']) ids[key] = String((await post(owner, '/api/apps/shop/content/products', { data: { title: `Product ${key}` } })).id);
    ids.a1 = String((await post(owner, '/api/apps/shop/assets', fileForm(Buffer.from('first bytes'), 'one.txt', 'text/plain'))).id);
    ids.a2 = String((await post(owner, '/api/apps/shop/assets', fileForm(Buffer.from('doomed'), 'two.txt', 'text/plain'))).id);
    a = (await backup({ label: 'a' })).id;

    // Every kind of change.
    await post(owner, '/api/apps/shop/schemas/products/fields', { name: 'price', type: 'Number' });
    await post(owner, '/api/apps/shop/schemas', { name: 'extras', fields: [{ name: 'note', type: 'String' }] });
    ids.extras = String((await owner.get('/api/apps/shop/schemas/extras')).body.id);
    expect((await owner.delete('/api/apps/shop/schemas/gone')).status).toBe(204);
    ids.p4 = String((await post(owner, '/api/apps/shop/content/products', { data: { title: HOSTILE } })).id);
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p1}`, { data: { title: LONG, price: 12 } })).status).toBe(200);
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p2}/status`, { status: 'Published' })).status).toBe(200);
    expect((await owner.delete(`/api/apps/shop/content/products/${ids.p3}`)).status).toBe(204);
    expect((await owner.put(`/api/apps/shop/assets/${ids.a1}/content`, fileForm(Buffer.from('second bytes'), 'one-v2.txt', 'text/plain'))).status).toBe(200);
    expect((await owner.delete(`/api/apps/shop/assets/${ids.a2}`)).status).toBe(204);
    ids.a3 = String((await post(owner, '/api/apps/shop/assets', fileForm(Buffer.from('new asset'), 'three.txt', 'text/plain'))).id);
    expect((await owner.delete(`/api/apps/shop/contributors/${cast.editor.id}`)).status).toBe(200);
    await post(owner, '/api/apps/shop/contributors', { email: 'newbie@example.com', role: 'Reader' });
    await post(owner, '/api/apps/shop/contributors', { email: 'reader@example.com', role: 'Developer' });
    b = (await backup({ label: 'b' })).id;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('from a to b: every kind of change, with the fields that differ and the file versions added', async () => {
    const d = await diff(a, `against=${b}`);
    expect(d.from).toMatchObject({ backupId: a, appName: 'shop', events: expect.any(Number) });
    expect(d.to).toMatchObject({ backupId: b, appName: 'shop' });
    expect(d.summary).toEqual({
      contributors: { added: 1, removed: 1, changed: 1 },
      schemas: { added: 1, removed: 1, changed: 1 },
      contents: { added: 1, removed: 1, changed: 2 },
      assets: { added: 1, removed: 1, changed: 1 },
    });
    expect(d.total).toBe(13);
    expect(d.next).toBeNull();
    // By kind, then id.
    const keys = d.items.map((item) => `${item.kind}/${item.id}`);
    expect(keys).toEqual([...keys].sort());

    expect(find(d, 'schemas', ids.extras!)).toMatchObject({ change: 'added', label: 'extras', properties: [{ name: 'fields.note', change: 'added', before: null }, { name: 'name', change: 'added' }] });
    expect(find(d, 'schemas', ids.gone!)).toMatchObject({ change: 'removed', label: 'gone' });
    expect(find(d, 'schemas', ids.products!)).toEqual({
      kind: 'schemas',
      id: ids.products,
      change: 'changed',
      label: 'products',
      labelBefore: null,
      properties: [{ name: 'fields.price', change: 'added', before: null, after: { json: '{"required":false,"type":"Number"}', truncated: false, length: 34 } }],
      fields: ['price'],
      versionsAdded: [],
      versionsRemoved: [],
    });

    const p1 = find(d, 'contents', ids.p1!)!;
    expect(p1.change).toBe('changed');
    expect(p1.properties.map((p) => [p.name, p.change])).toEqual([
      ['data.price', 'added'],
      ['data.title', 'changed'],
    ]);
    const title = p1.properties.find((p) => p.name === 'data.title')!;
    expect(title.before).toEqual({ json: '"Product p1"', truncated: false, length: 12 });
    expect(title.after!.truncated).toBe(true);
    expect(title.after!.json).toHaveLength(200);
    expect(title.after!.length).toBe(JSON.stringify(LONG).length);
    expect(JSON.stringify(LONG).startsWith(title.after!.json)).toBe(true);
    expect(find(d, 'contents', ids.p2!)!.properties).toEqual([{ name: 'status', change: 'changed', before: { json: '"Draft"', truncated: false, length: 7 }, after: { json: '"Published"', truncated: false, length: 11 } }]);
    expect(find(d, 'contents', ids.p3!)).toMatchObject({ change: 'removed' });
    expect(find(d, 'contents', ids.p4!)).toMatchObject({ change: 'added', properties: expect.arrayContaining([{ name: 'data.title', change: 'added', before: null, after: { json: JSON.stringify(HOSTILE), truncated: false, length: JSON.stringify(HOSTILE).length } }]) });

    const a1 = find(d, 'assets', ids.a1!)!;
    expect(a1).toMatchObject({ change: 'changed', label: 'one-v2.txt', labelBefore: 'one.txt', versionsRemoved: [] });
    expect(a1.versionsAdded).toEqual([{ version: '1', value: { json: sha256('second bytes'), truncated: false, length: 66 } }]);
    expect(a1.properties.map((p) => p.name)).toEqual(['fileName', 'fileSize', 'fileVersion', 'sha256']);
    expect(find(d, 'assets', ids.a2!)).toMatchObject({ change: 'removed', label: 'two.txt' });
    expect(find(d, 'assets', ids.a3!)).toMatchObject({ change: 'added', label: 'three.txt', versionsAdded: [{ version: '0', value: { json: sha256('new asset') } }] });

    expect(find(d, 'contributors', cast.editor.id)).toMatchObject({ change: 'removed', properties: [{ name: 'role', change: 'removed', before: { json: '"Editor"' }, after: null }] });
    expect(find(d, 'contributors', newbie.id)).toMatchObject({ change: 'added', properties: [{ name: 'role', after: { json: '"Reader"' } }] });
    expect(find(d, 'contributors', cast.reader.id)).toMatchObject({ change: 'changed', properties: [{ name: 'role', before: { json: '"Reader"' }, after: { json: '"Developer"' } }] });
  });

  it('from b to a is the mirror: what was added is removed, the field b gained is lost, the file version goes', async () => {
    const d = await diff(b, `against=${a}`);
    expect(d.summary.schemas).toEqual({ added: 1, removed: 1, changed: 1 });
    expect(find(d, 'schemas', ids.extras!)!.change).toBe('removed');
    expect(find(d, 'schemas', ids.gone!)!.change).toBe('added');
    expect(find(d, 'schemas', ids.products!)!.properties).toMatchObject([{ name: 'fields.price', change: 'removed', after: null }]);
    expect(find(d, 'contents', ids.p1!)!.properties.map((p) => [p.name, p.change])).toEqual([
      ['data.price', 'removed'],
      ['data.title', 'changed'],
    ]);
    expect(find(d, 'assets', ids.a1!)).toMatchObject({ labelBefore: 'one-v2.txt', versionsAdded: [], versionsRemoved: [{ version: '1' }] });
  });

  it('a backup against itself, and the newest backup against the live app, are empty; a change since shows', async () => {
    for (const d of [await diff(a, `against=${a}`), await diff(b, 'against=live')]) {
      expect(d.total).toBe(0);
      expect(d.items).toEqual([]);
      expect(d.next).toBeNull();
      expect(Object.values(d.summary).every((c) => c.added + c.removed + c.changed === 0)).toBe(true);
    }
    const live = await diff(b, 'against=live');
    expect(live.to).toMatchObject({ backupId: null, appName: 'shop', created: null });
    const res = await owner.put(`/api/apps/shop/content/products/${ids.p4}`, { data: { title: 'tamed' } });
    expect(res.status).toBe(200);
    const after = await diff(b, 'against=live');
    expect(after.total).toBe(1);
    expect(after.items[0]).toMatchObject({ kind: 'contents', id: ids.p4, change: 'changed', properties: [{ name: 'data.title', after: { json: '"tamed"' } }] });
    await owner.put(`/api/apps/shop/content/products/${ids.p4}`, { data: { title: HOSTILE } });
  });

  it('pages with a cursor: the pages together are the whole diff, each change once', async () => {
    const whole = await diff(a, `against=${b}&limit=1000`);
    const paged: Item[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Diff = await diff(a, `against=${b}&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.total).toBe(whole.total);
      expect(page.summary).toEqual(whole.summary);
      expect(page.items.length).toBeLessThanOrEqual(5);
      paged.push(...page.items);
      cursor = page.next;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(paged).toEqual(whole.items);
    const beyond = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&cursor=999`);
    expect(beyond.status).toBe(400);
    expect(beyond.body.message).toContain('start again without a cursor');
    const bad = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('limit');
  });

  it('answers as the shared contract words it: each kind grouped by change (a content changed with its fields), paged with top and skip', async () => {
    const d = await diff(a, `against=${b}`);
    // The groups are the page's items, split by kind and change, nothing more and nothing less.
    for (const kind of KINDS) {
      for (const change of ['added', 'removed', 'changed'] as const) expect(d[kind][change]).toEqual(d.items.filter((item) => item.kind === kind && item.change === change));
    }
    const ids_ = (items: Item[]) => items.map((item) => item.id).sort();
    expect(ids_(d.contents.added)).toEqual([ids.p4]);
    expect(ids_(d.contents.removed)).toEqual([ids.p3]);
    expect(d.contents.changed.map((item) => [item.id, item.fields]).sort()).toEqual([
      [ids.p1, ['price', 'title']],
      [ids.p2, []],
    ].sort());
    expect(d.schemas.changed.map((item) => [item.id, item.fields])).toEqual([[ids.products, ['price']]]);
    expect(ids_(d.schemas.added)).toEqual([ids.extras]);
    expect(d.schemas.added[0]!.fields).toEqual(['note']);
    expect(ids_(d.schemas.removed)).toEqual([ids.gone]);
    expect(ids_(d.assets.added)).toEqual([ids.a3]);
    expect(ids_(d.assets.removed)).toEqual([ids.a2]);
    expect(d.assets.changed.map((item) => [item.id, item.fields])).toEqual([[ids.a1, []]]);
    expect(ids_(d.contributors.added)).toEqual([newbie.id]);
    expect(ids_(d.contributors.removed)).toEqual([cast.editor.id]);
    expect(ids_(d.contributors.changed)).toEqual([cast.reader.id]);

    // Against itself: every group empty.
    const same = await diff(a, `against=${a}`);
    for (const kind of KINDS) expect(same[kind]).toEqual({ added: [], removed: [], changed: [] });

    // top/skip page as limit/cursor do: the pages together are the whole, each group the page's own.
    const paged: Item[] = [];
    for (let skip = 0; skip < d.total; skip += 4) {
      const page = await diff(a, `against=${b}&top=4&skip=${skip}`);
      expect(page.items.length).toBe(Math.min(4, d.total - skip));
      expect(page.next).toBe(skip + 4 < d.total ? String(skip + 4) : null);
      expect(KINDS.flatMap((kind) => [...page[kind].added, ...page[kind].removed, ...page[kind].changed])).toHaveLength(page.items.length);
      paged.push(...page.items);
    }
    expect(paged).toEqual(d.items);
    // Both spellings at once must agree.
    expect((await diff(a, `against=${b}&top=4&limit=4&skip=4&cursor=4`)).items).toEqual(d.items.slice(4, 8));
    const clash = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&skip=4&cursor=8`);
    expect(clash.status).toBe(400);
    expect(clash.body.message).toContain('cursor and skip: give one of them');
    const clashSize = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&top=4&limit=5`);
    expect(clashSize.status).toBe(400);
    expect(clashSize.body.message).toContain('limit and top: give one of them');
    const badSkip = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&skip=-1`);
    expect(badSkip.status).toBe(400);
    expect(badSkip.body.message).toContain('skip');
  });

  it('keeps a finished diff of two backups for its later pages: only its changes, read without the archives again', async () => {
    const whole = await diff(a, `against=${b}&limit=1000`);
    const first = await diff(a, `against=${b}&limit=5`);
    // The changes' file of each kept diff (at most 4); the sides' states are gone once compared.
    const files = diffFiles();
    expect(files.kept.length).toBeGreaterThan(0);
    expect(files.kept.length).toBeLessThanOrEqual(4);
    expect(files.other).toEqual([]);

    // With both archives out of the store, later pages still come (from the kept changes)...
    const archives = [a, b].map((id) => join(server.dataDir, 'blobs', 'backups', `${id}.zip`));
    for (const file of archives) renameSync(file, `${file}.away`);
    try {
      const second = await diff(a, `against=${b}&limit=5&cursor=${first.next}`);
      const third = await diff(a, `against=${b}&limit=5&cursor=${second.next}`);
      expect([...first.items, ...second.items, ...third.items]).toEqual(whole.items);
      expect(third.next).toBeNull();
      // ...while a diff that is not kept (against the live app) must read the archive, and cannot.
      const live = await owner.get(`/api/apps/shop/backups/${a}/diff?against=live`);
      expect(live.status, JSON.stringify(live.body)).toBeGreaterThanOrEqual(400);
    } finally {
      for (const file of archives) renameSync(`${file}.away`, file);
    }
    expect((await diff(a, 'against=live')).total).toBeGreaterThan(0);
  });

  it('is for Owners, Developers and admins of the app; unknown backups, other apps’ backups and missing parameters are refused', async () => {
    expect((await diff(a, 'against=live', cast.developer.client)).total).toBeGreaterThan(0);
    expect((await diff(a, 'against=live', server.admin)).total).toBeGreaterThan(0);
    // newbie is a Reader now; the editor was removed from the app.
    for (const client of [newbie.client, cast.editor.client]) expect((await client.get(`/api/apps/shop/backups/${a}/diff?against=live`)).status).toBe(403);
    await post(owner, '/api/apps/shop/contributors', { email: 'editor@example.com', role: 'Editor' });
    expect((await cast.editor.client.get(`/api/apps/shop/backups/${a}/diff?against=live`)).status).toBe(403);
    expect((await owner.delete(`/api/apps/shop/contributors/${cast.editor.id}`)).status).toBe(200);
    expect((await cast.stranger.client.get(`/api/apps/shop/backups/${a}/diff?against=live`)).status).toBe(403);
    expect((await new (owner.constructor as new (url: string) => ApiClient)(server.url).get(`/api/apps/shop/backups/${a}/diff?against=live`)).status).toBe(401);
    const unknown = await owner.get('/api/apps/shop/backups/no-such-backup/diff?against=live');
    expect(unknown.status).toBe(404);
    const missing = await owner.get(`/api/apps/shop/backups/${a}/diff`);
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('against');
    await post(server.admin, '/api/apps', { name: 'other' });
    const other = await post(server.admin, '/api/apps/other/backups', {});
    await waitForJob(server.admin, `/api/apps/other/backups/${String(other.id)}`);
    expect((await owner.get(`/api/apps/shop/backups/${a}/diff?against=${String(other.id)}`)).status).toBe(404);
    // Nothing is left behind in DATA_DIR/tmp but the changes of kept diffs.
    expect(diffFiles().other).toEqual([]);
  });

  it('an encrypted backup: refused without its key, read with it (POST, the key in the body), a wrong key said so', async () => {
    const sealed = await backup({ encryption: { passphrase: true } });
    const passphrase = String(sealed.started.passphrase);
    const without = await owner.get(`/api/apps/shop/backups/${sealed.id}/diff?against=live`);
    expect(without.status).toBe(400);
    expect(without.body.message).toContain('is encrypted (with a passphrase)');
    const wrong = await owner.post(`/api/apps/shop/backups/${sealed.id}/diff`, { against: 'live', passphrase: 'not-the-passphrase' });
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.body)).not.toContain('not-the-passphrase');
    const keptBefore = diffFiles().kept;
    const right = await owner.post(`/api/apps/shop/backups/${sealed.id}/diff`, { against: a, passphrase });
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    // A diff of an encrypted backup is never kept: a later page needs the key again.
    expect(diffFiles()).toEqual({ kept: keptBefore, other: [] });
    const plain = await diff(b, `against=${a}`);
    expect((right.body as Diff).summary).toEqual(plain.summary);
    expect((right.body as Diff).items).toEqual(plain.items);
    expect(diffFiles().other).toEqual([]);
  });

  it('the dry runs of a rollback and of a restore show the diff against the live app; a rollback to the state of event n too', async () => {
    const live = await diff(a, 'against=live');
    expect(live.total).toBeGreaterThan(0);
    const rollback = await owner.post('/api/apps/shop/rollback', { backupId: a, dryRun: true });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(200);
    expect(rollback.body.diff).toEqual({ summary: live.summary, total: live.total, items: live.items.slice(0, 20), next: live.total > 20 ? '20' : null });
    // A rollback with untilEvent folds the live history up to that event: the same state as backup a's.
    const untilEvent = Number(live.from.events);
    const byEvent = await owner.post('/api/apps/shop/rollback', { untilEvent, dryRun: true });
    expect(byEvent.status, JSON.stringify(byEvent.body)).toBe(200);
    expect(byEvent.body.diff.summary).toEqual(live.summary);
    expect(byEvent.body.diff.items).toEqual(live.items.slice(0, 20));

    const restore = await server.admin.post('/api/restore', { backupId: a, name: 'shop-copy', dryRun: true });
    expect(restore.status, JSON.stringify(restore.body)).toBe(200);
    expect(restore.body.valid).toBe(true);
    expect(restore.body.diff).toEqual({ summary: live.summary, total: live.total, items: live.items.slice(0, 20), next: live.total > 20 ? '20' : null });
    const early = await server.admin.post('/api/restore', { backupId: a, name: 'shop-copy', untilEvent: 3, dryRun: true });
    // Up to event 3 the app had no schema, content or asset yet: everything the app has now is added.
    expect(early.body.diff.summary).toMatchObject({ schemas: { added: 2, removed: 0, changed: 0 }, contents: { added: 3, removed: 0, changed: 0 }, assets: { added: 2, removed: 0, changed: 0 } });

    const cli = await runCli(['rollback', 'start', 'shop', '--backup', a, '--dry-run'], { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: owner.token! } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('what changed since then');
    expect(cli.stdout).toContain(`~ contents ${ids.p1}`);
    expect(diffFiles().other).toEqual([]);
  });

  it('appvault diff: two archive files offline, escaped on a terminal; backup ids through the server', async () => {
    for (const [id, name] of [
      [a, 'a.zip'],
      [b, 'b.zip'],
    ] as const) {
      const download = await owner.bytes(`/api/apps/shop/backups/${id}/archive`);
      writeFileSync(join(dir, name), download.bytes);
    }
    const offline = await runCli(['diff', join(dir, 'a.zip'), join(dir, 'b.zip'), '--json']);
    expect(offline.code, offline.stderr).toBe(0);
    const report = jsonOf<Diff>(offline);
    const online = await diff(a, `against=${b}`);
    expect(report.summary).toEqual(online.summary);
    expect(report.items).toEqual(online.items);
    // The same groups per kind as the route answers.
    for (const kind of KINDS) expect(report[kind]).toEqual(online[kind]);
    expect(report.from).toMatchObject({ file: join(dir, 'a.zip'), appName: 'shop' });

    const human = await runCli(['diff', join(dir, 'a.zip'), join(dir, 'b.zip')]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('schemas       1 added, 1 removed, 1 changed');
    expect(human.stdout).toContain(`~ assets ${ids.a1} one-v2.txt (was one.txt)`);
    expect(human.stdout).toContain(`+ file version 1: ${sha256('second bytes')}`);
    expect(human.stdout).toMatch(/~ data\.title: "Product p1" → "long text .*… \(cut; \d+ characters in all\)/);
    expect(human.stdout).not.toContain('\u202e');
    expect(human.stdout).toContain('evil\\u202etxt.exe');

    const paged = await runCli(['diff', join(dir, 'a.zip'), join(dir, 'b.zip'), '--limit', '5', '--cursor', '5', '--json']);
    expect(jsonOf<Diff>(paged).items).toEqual(online.items.slice(5, 10));

    const env = { APPVAULT_URL: server.url, APPVAULT_TOKEN: owner.token! };
    const byId = await runCli(['diff', a, b, '--app', 'shop', '--json'], { env });
    expect(byId.code, byId.stderr).toBe(0);
    expect(jsonOf<Diff>(byId).items).toEqual(online.items);
    const admin = await runCli(['diff', b, 'live', '--json'], { env: { ...env, APPVAULT_TOKEN: server.admin.token! } });
    expect(admin.code, admin.stderr).toBe(0);
    expect(jsonOf<Diff>(admin).total).toBe(0);
    const mixed = await runCli(['diff', join(dir, 'a.zip'), b]);
    expect(mixed.code).toBe(2);
    const typo = await runCli(['diff', join(dir, 'a.zip'), join(dir, 'nothing.zip')]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('nothing.zip: there is no such file');
  });
});

describe('diffs that outlast the wait: 202 with Retry-After, the computation goes on, the same request reads it', () => {
  let server: TestServer;
  let owner: ApiClient;
  let a: string;
  let b: string;
  const contents: string[] = [];

  /** Asks `path` until it answers 200 (not waiting Retry-After: the test's diffs are small); the 202s seen on the way. */
  const until200 = async (path: string) => {
    const computing: Record<string, unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const res = await owner.get(path);
      if (res.status === 200) return { body: res.body as Diff & { snapshot: string | null }, computing };
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.headers.get('retry-after')).toBe('5');
      computing.push(res.body as Record<string, unknown>);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${path} did not answer 200`);
  };

  beforeAll(async () => {
    // Every diff request answers 202 unless its diff is already computed.
    server = await startServer({ DIFF_WAIT_SECONDS: '0' });
    owner = (await createCast(server, 'shop')).owner.client;
    const post = async (path: string, body: unknown) => {
      const res = await owner.post(path, body);
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
      return res.body as Record<string, unknown>;
    };
    await post('/api/apps/shop/schemas', { name: 'products', fields: [{ name: 'title', type: 'String' }] });
    for (let i = 0; i < 30; i++) contents.push(String((await post('/api/apps/shop/content/products', { data: { title: `p${i}` } })).id));
    const backup = async () => String((await waitForJob(owner, `/api/apps/shop/backups/${String((await post('/api/apps/shop/backups', {})).id)}`)).id);
    a = await backup();
    for (const id of contents.slice(0, 10)) expect((await owner.put(`/api/apps/shop/content/products/${id}`, { data: { title: 'changed' } })).status).toBe(200);
    b = await backup();
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('two backups: 202 first (with Retry-After), then 200 with the whole diff; later requests are answered at once', async () => {
    const first = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}`);
    expect(first.status).toBe(202);
    expect(first.headers.get('retry-after')).toBe('5');
    expect(first.body).toEqual({ status: 'Computing', since: expect.any(String), retryAfterSeconds: 5, snapshot: null });
    expect(Date.parse(first.body.since)).not.toBeNaN();
    const { body } = await until200(`/api/apps/shop/backups/${a}/diff?against=${b}&limit=4`);
    expect(body.total).toBe(10);
    expect(body.snapshot).toBeNull();
    expect(body.contents.changed.map((item) => item.fields)).toEqual([['title'], ['title'], ['title'], ['title']]);
    // Kept: the next pages answer 200 straight away.
    const second = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&limit=4&cursor=${body.next}`);
    expect(second.status).toBe(200);
    expect(second.body.items).toHaveLength(4);
    const snapshotted = await owner.get(`/api/apps/shop/backups/${a}/diff?against=${b}&snapshot=${randomUUID()}`);
    expect(snapshotted.status).toBe(400);
    expect(snapshotted.body.message).toContain('only a diff against live has one');
  });

  it('against live: the snapshot named in the 202 leads to that computation, and its pages read the app as it was then', async () => {
    const first = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&limit=5`);
    expect(first.status).toBe(202);
    const snapshot = first.body.snapshot as string;
    expect(snapshot).toMatch(/^[0-9a-f-]{36}$/);
    const { body, computing } = await until200(`/api/apps/shop/backups/${b}/diff?against=live&limit=5&snapshot=${snapshot}`);
    expect(computing.every((c) => c.snapshot === snapshot)).toBe(true);
    expect(body.snapshot).toBe(snapshot);
    expect(body.total).toBe(0);

    // The app changes: the snapshot still reads it as it was; a request without one reads it anew.
    for (const id of contents.slice(20, 25)) expect((await owner.put(`/api/apps/shop/content/products/${id}`, { data: { title: 'later' } })).status).toBe(200);
    const same = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&snapshot=${snapshot}`);
    expect(same.status).toBe(200);
    expect(same.body.total).toBe(0);
    const anew = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&limit=3`);
    expect(anew.status).toBe(202);
    expect(anew.body.snapshot).not.toBe(snapshot);
    const fresh = await until200(`/api/apps/shop/backups/${b}/diff?against=live&limit=3&snapshot=${String(anew.body.snapshot)}`);
    expect(fresh.body.total).toBe(5);
    const page2 = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&limit=3&cursor=${fresh.body.next}&snapshot=${String(anew.body.snapshot)}`);
    expect(page2.status).toBe(200);
    expect([...fresh.body.items, ...page2.body.items].map((item) => item.id).sort()).toEqual(contents.slice(20, 25).sort());

    const unknown = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&snapshot=${randomUUID()}`);
    expect(unknown.status).toBe(410);
    expect(unknown.body.message).toContain('is no longer kept');
    const malformed = await owner.get(`/api/apps/shop/backups/${b}/diff?against=live&snapshot=nope`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toContain('snapshot');
  });

  it('appvault diff waits as the server says, saying so on stderr, then prints the diff', async () => {
    const env = { APPVAULT_URL: server.url, APPVAULT_TOKEN: owner.token! };
    const cli = await runCli(['diff', a, 'live', '--app', 'shop', '--json', '--limit', '2'], { env });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toContain('The server is still computing this diff');
    const report = jsonOf<Diff & { snapshot: string }>(cli);
    expect(report.total).toBe(15);
    expect(report.snapshot).toMatch(/^[0-9a-f-]{36}$/);
    // The next page of the same computation, by its snapshot: answered at once.
    const next = await runCli(['diff', a, 'live', '--app', 'shop', '--limit', '2', '--cursor', report.next!, '--snapshot', report.snapshot], { env });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toContain('still computing');
    expect(next.stdout).toContain(`--snapshot ${report.snapshot}`);
  });
});
