import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { type ApiClient, createCast, startServer, type TestServer } from '../support/test-server.js';
import { tamper } from '../support/zip-tamper.js';
import { readZipBuffer } from '../support/zip-inspect.js';

type HistoryEvent = { number: number; stream: string; type: string; data: Record<string, unknown> };

/** An event's place without the app id: `content--{id}`, `schema--{id}`, `app`. */
const entityOf = (stream: string) => (stream.startsWith('app-') ? 'app' : `${stream.slice(0, stream.indexOf('-'))}--${stream.slice(stream.indexOf('--') + 2)}`);

describe('partial backups', () => {
  let server: TestServer;
  let owner: ApiClient;
  let history: HistoryEvent[];
  const ids = { products: '', notes: '', p1: '', p2: '', n1: '', n2: '', a1: '', a2: '' };
  const bytes = { a1v0: Buffer.from('picture one, first version'), a1v1: Buffer.from('picture one, second version'), a2: Buffer.from('an asset nothing references') };

  async function backup(include: unknown): Promise<Record<string, unknown>> {
    const started = await owner.post('/api/apps/shop/backups', { label: 'partial', include });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForJob(owner, `/api/apps/shop/backups/${String(started.body.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    return done;
  }

  async function restore(backupId: string, name: string): Promise<Record<string, unknown>> {
    const started = await server.admin.post('/api/restore', { backupId, name });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForJob(server.admin, `/api/restore/${String(started.body.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    return done;
  }

  const eventsOf = async (app: string) => (await server.admin.get(`/api/apps/${app}/events?take=1000`)).body.items as HistoryEvent[];
  const logOf = (job: Record<string, unknown>) => (job.log as { message: string }[]).map((l) => l.message);

  beforeAll(async () => {
    server = await startServer();
    owner = (await createCast(server, 'shop')).owner.client;
    const asset = async (content: Buffer, name: string) => (await owner.post('/api/apps/shop/assets', fileForm(content, name, 'text/plain'))).body.id as string;
    ids.a1 = await asset(bytes.a1v0, 'one.txt');
    ids.a2 = await asset(bytes.a2, 'two.txt');
    ids.products = (await owner.post('/api/apps/shop/schemas', { name: 'products', fields: [{ name: 'title', type: 'String' }, { name: 'picture', type: 'Assets' }] })).body.id as string;
    ids.notes = (await owner.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }, { name: 'about', type: 'References' }] })).body.id as string;
    ids.p1 = (await owner.post('/api/apps/shop/content/products', { data: { title: 'Lamp', picture: [ids.a1] } })).body.id as string;
    ids.n1 = (await owner.post('/api/apps/shop/content/notes', { data: { text: 'about the lamp', about: [ids.p1] } })).body.id as string;
    ids.p2 = (await owner.post('/api/apps/shop/content/products', { data: { title: 'Chair', picture: [] } })).body.id as string;
    expect((await owner.put(`/api/apps/shop/assets/${ids.a1}/content`, fileForm(bytes.a1v1, 'one.txt', 'text/plain'))).status).toBe(200);
    expect((await owner.put(`/api/apps/shop/content/products/${ids.p1}`, { data: { title: 'Lamp, red', picture: [ids.a1] } })).status).toBe(200);
    ids.n2 = (await owner.post('/api/apps/shop/content/notes', { data: { text: 'a loose note', about: [] } })).body.id as string;
    expect((await owner.put(`/api/apps/shop/content/notes/${ids.n2}/status`, { status: 'Published' })).status).toBe(200);
    expect((await owner.post('/api/apps/shop/schemas/notes/fields', { name: 'mood', type: 'String' })).status).toBe(200);
    history = await eventsOf('shop');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('backs up one schema without assets; the restored app has exactly that schema and its contents, its history only their events in the original order, and the log lists the dangling references', async () => {
    const job = await backup({ schemas: ['notes'], assets: 'none' });
    expect(job).toMatchObject({ partial: true, include: { schemas: ['notes'], contents: null, assets: 'none' }, assetCount: 0 });
    const kept = history.filter((e) => e.stream.startsWith('app-') || entityOf(e.stream) === `schema--${ids.notes}` || [ids.n1, ids.n2].some((id) => entityOf(e.stream) === `content--${id}`));
    expect(job.eventCount).toBe(kept.length);

    const zip = await readZipBuffer((await owner.bytes(`/api/apps/shop/backups/${String(job.id)}/archive`)).bytes);
    const manifest = JSON.parse(zip.get('manifest.json')!.toString());
    expect(manifest).toMatchObject({ partial: true, include: { schemas: ['notes'], contents: null, assets: 'none' } });
    expect(JSON.parse(zip.get('selection.json')!.toString())).toEqual(manifest.include);
    expect(manifest.entries.map((e: { name: string }) => e.name)).toContain('selection.json');
    expect([...zip.keys()].some((name) => name.startsWith('assets/'))).toBe(false);

    const restored = await restore(String(job.id), 'shop-notes');
    expect(restored).toMatchObject({ partial: true, include: { schemas: ['notes'] } });
    const log = logOf(restored);
    expect(log.some((line) => line.startsWith('This archive is partial: it holds schema notes'))).toBe(true);
    expect(log).toContain(`Dangling references: the contents name 1 content the archive does not hold (${ids.p1}); they are kept as plain ids`);

    const schemas = (await server.admin.get('/api/apps/shop-notes/schemas')).body.items as { name: string; fields: { name: string }[] }[];
    expect(schemas.map((s) => s.name)).toEqual(['notes']);
    expect(schemas[0]!.fields.map((f) => f.name)).toEqual(['text', 'about', 'mood']);
    const notes = (await server.admin.get('/api/apps/shop-notes/content/notes?top=100')).body.items as { id: string; data: Record<string, unknown>; status: string }[];
    expect(notes.map((n) => n.id).sort()).toEqual([ids.n1, ids.n2].sort());
    expect(notes.find((n) => n.id === ids.n1)!.data).toEqual({ text: 'about the lamp', about: [ids.p1] });
    expect(notes.find((n) => n.id === ids.n2)!.status).toBe('Published');
    expect((await server.admin.get('/api/apps/shop-notes/content/products')).status).toBe(404);
    expect((await server.admin.get('/api/apps/shop-notes/assets')).body.total).toBe(0);

    // The history: the selected events in their original order, then the restore's own (the Owner grant).
    const events = await eventsOf('shop-notes');
    const shape = (e: HistoryEvent) => [entityOf(e.stream), e.type];
    expect(events.slice(0, kept.length).map(shape)).toEqual(kept.map(shape));
    expect(events.slice(0, kept.length).map((e) => e.number)).toEqual(kept.map((_e, i) => i + 1));
    expect(events.slice(kept.length).every((e) => e.stream.startsWith('app-'))).toBe(true);
  });

  it('backs up one schema with the assets its contents reference, every file version included', async () => {
    const job = await backup({ schemas: ['products'], assets: 'referenced' });
    expect(job.assetCount).toBe(2);
    const restored = await restore(String(job.id), 'shop-products');
    expect(logOf(restored).some((line) => line.startsWith('Dangling references'))).toBe(false);
    const assets = (await server.admin.get('/api/apps/shop-products/assets')).body.items as { id: string; fileVersion: number }[];
    expect(assets.map((a) => [a.id, a.fileVersion])).toEqual([[ids.a1, 1]]);
    expect((await server.admin.bytes(`/api/apps/shop-products/assets/${ids.a1}/content`)).bytes).toEqual(bytes.a1v1);
    expect((await server.admin.bytes(`/api/apps/shop-products/assets/${ids.a1}/content?version=0`)).bytes).toEqual(bytes.a1v0);
    const products = (await server.admin.get('/api/apps/shop-products/content/products?top=100')).body.items as { id: string; data: unknown }[];
    const source = (await owner.get('/api/apps/shop/content/products?top=100')).body.items as { id: string; data: unknown }[];
    expect(products.map((p) => [p.id, p.data])).toEqual(source.map((p) => [p.id, p.data]));
    expect((await server.admin.get('/api/apps/shop-products/schemas')).body.items.map((s: { name: string }) => s.name)).toEqual(['products']);
  });

  it('narrows a schema to listed contents, and all assets means every asset', async () => {
    const job = await backup({ schemas: ['products'], contents: [ids.p1] });
    expect(job.include).toEqual({ schemas: ['products'], contents: [ids.p1], assets: 'all' });
    expect(job.assetCount).toBe(3);
    await restore(String(job.id), 'shop-lamp');
    const products = (await server.admin.get('/api/apps/shop-lamp/content/products')).body.items as { id: string }[];
    expect(products.map((p) => p.id)).toEqual([ids.p1]);
    expect((await server.admin.get('/api/apps/shop-lamp/assets')).body.total).toBe(2);
  });

  it('treats an empty or all-inclusive selection as the whole app', async () => {
    const job = await backup({ schemas: null, contents: null, assets: 'all' });
    expect(job).toMatchObject({ partial: false, include: null, eventCount: history.length });
  });

  it('refuses selections that name what the app lacks, or are malformed, with a 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ schemas: ['nope'] }, /^include\.schemas: the app has no schema named "nope"$/],
      [{ schemas: ['notes'], contents: [ids.p1] }, new RegExp(`^include\\.contents: content "${ids.p1}" belongs to schema "products", which include\\.schemas does not name$`)],
      [{ contents: ['missing-id'] }, /^include\.contents: the app has no content with id "missing-id"$/],
      [{ assets: 'most' }, /^include\.assets: must be one of all, referenced, none$/],
      [{ schemas: 'notes' }, /^include\.schemas: /],
      [{ schemas: ['Not A Name'] }, /^include\.schemas\.0: must be schema names/],
      [{ everything: true }, /unknown field "everything"/],
    ];
    for (const [include, message] of cases) {
      const res = await owner.post('/api/apps/shop/backups', { include });
      expect(res.status, JSON.stringify(include)).toBe(400);
      expect(String(res.body.message), JSON.stringify(include)).toMatch(message);
    }
  });

  it('refuses a partial archive that claims to be whole, or whose selection was changed', async () => {
    const job = await backup({ schemas: ['notes'] });
    const archive = (await owner.bytes(`/api/apps/shop/backups/${String(job.id)}/archive`)).bytes;
    const claimsWhole = await tamper(archive, 'manifest.json', (old) => {
      const { partial: _p, include: _i, ...rest } = JSON.parse(old.toString()) as Record<string, unknown>;
      return Buffer.from(JSON.stringify(rest));
    });
    const otherSelection = await tamper(archive, 'manifest.json', (old) => {
      const manifest = JSON.parse(old.toString()) as Record<string, unknown>;
      return Buffer.from(JSON.stringify({ ...manifest, include: { schemas: ['notes', 'products'], contents: null, assets: 'all' } }));
    });
    for (const [zip, message] of [
      [claimsWhole, /selection\.json, so it is partial, but manifest\.json claims the whole app/],
      [otherSelection, /selection\.json and manifest\.json name different selections/],
    ] as const) {
      const form = fileForm(zip, 'x.zip', 'application/zip');
      form.append('dryRun', 'true');
      const res = await server.admin.post('/api/restore?dryRun=true', form);
      expect(res.status).toBe(200);
      expect(res.body.valid).toBe(false);
      expect(String(res.body.error)).toMatch(message);
    }
    const dry = await server.admin.post('/api/restore', { backupId: job.id, name: 'shop-dry', dryRun: true });
    expect(dry.body).toMatchObject({ valid: true, partial: true, include: { schemas: ['notes'], contents: null, assets: 'all' } });
    expect(dry.body.notes).toContain(`Dangling references: the contents name 1 content the archive does not hold (${ids.p1}); they are kept as plain ids`);
  });
});
