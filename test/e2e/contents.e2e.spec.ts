import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppReplays } from '../../src/eventsourcing/app-replays.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { type ApiClient, type ApiResponse, createCast, startServer, type TestServer } from '../support/test-server.js';

interface Field {
  name: string;
  type: string;
  required: boolean;
}
interface Schema {
  id: string;
  name: string;
  fields: Field[];
  version: number;
  created: string;
  lastModified: string;
}
interface Content {
  id: string;
  schema: string;
  data: Record<string, unknown>;
  status: string;
  version: number;
  created: string;
  createdBy: string;
  lastModified: string;
  lastModifiedBy: string;
}

const EVERY_TYPE = [
  { name: 'title', type: 'String', required: true },
  { name: 'price', type: 'Number' },
  { name: 'inStock', type: 'Boolean' },
  { name: 'released', type: 'DateTime' },
  { name: 'meta', type: 'Json' },
  { name: 'images', type: 'Assets' },
  { name: 'related', type: 'References' },
];

const isIso = (value: unknown) => typeof value === 'string' && new Date(value).toISOString() === value;

describe('schemas and contents over HTTP', () => {
  let server: TestServer;
  let owner: { id: string; client: ApiClient };
  let developer: { id: string; client: ApiClient };
  let editor: { id: string; client: ApiClient };
  let reader: { id: string; client: ApiClient };
  let stranger: { id: string; client: ApiClient };
  let anonymous: ApiClient;

  /** Everyone the role checks try, with a label for failure messages. */
  let everyone: [string, ApiClient][];
  const expectStatuses = async (call: (client: ApiClient) => Promise<ApiResponse>, expected: Record<string, number>) => {
    for (const [who, client] of everyone) {
      const res = await call(client);
      expect(res.status, `${who}: ${JSON.stringify(res.body)}`).toBe(expected[who]);
    }
  };

  const createContent = async (client: ApiClient, schema: string, data: Record<string, unknown>, publish = false): Promise<Content> => {
    const res = await client.post(`/api/apps/shop/content/${schema}${publish ? '?publish=true' : ''}`, { data });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Content;
  };

  beforeAll(async () => {
    server = await startServer();
    ({ owner, developer, editor, reader, stranger } = await createCast(server, 'shop'));
    anonymous = server.client();
    everyone = [
      ['admin', server.admin],
      ['owner', owner.client],
      ['developer', developer.client],
      ['editor', editor.client],
      ['reader', reader.client],
      ['stranger', stranger.client],
      ['anonymous', anonymous],
    ];
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('schemas', () => {
    it('creates a schema with every field type, required defaulting to false', async () => {
      const res = await owner.client.post('/api/apps/shop/schemas', { name: 'products', fields: EVERY_TYPE });
      expect(res.status).toBe(201);
      const schema = res.body as Schema;
      expect(schema).toEqual({
        id: expect.any(String),
        name: 'products',
        fields: EVERY_TYPE.map((f) => ({ required: false, ...f })),
        version: 0,
        created: expect.any(String),
        lastModified: schema.created,
      });
      expect(isIso(schema.created)).toBe(true);
      expect((await developer.client.post('/api/apps/shop/schemas', { name: 'posts', fields: [{ name: 'title', type: 'String', required: true }] })).status).toBe(201);
      expect((await developer.client.post('/api/apps/shop/schemas', { name: 'notes' })).body.fields).toEqual([]);
    });

    it('refuses bad names (400), taken names (409), unknown types and bad fields, naming the field', async () => {
      for (const name of ['Products', 'a--b', '-a', 'a'.repeat(41), '', 'sp ace']) {
        const res = await owner.client.post('/api/apps/shop/schemas', { name, fields: [] });
        expect(res.status, name).toBe(400);
        expect(res.body.message).toContain('name');
      }
      const taken = await owner.client.post('/api/apps/shop/schemas', { name: 'products', fields: [] });
      expect(taken.status).toBe(409);
      expect(taken.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(taken.body.message).toContain('"products" exists already');
      const badType = await owner.client.post('/api/apps/shop/schemas', { name: 'things', fields: [{ name: 'title', type: 'String' }, { name: 'cost', type: 'Money' }] });
      expect(badType.status).toBe(400);
      expect(badType.body.message).toContain('field "cost" has the unknown type "Money"');
      const badName = await owner.client.post('/api/apps/shop/schemas', { name: 'things', fields: [{ name: 'no-dashes', type: 'String' }] });
      expect(badName.status).toBe(400);
      expect(badName.body.message).toContain('"no-dashes"');
      const twice = await owner.client.post('/api/apps/shop/schemas', { name: 'things', fields: [{ name: 'a', type: 'String' }, { name: 'a', type: 'Number' }] });
      expect(twice.status).toBe(409);
      expect(twice.body.message).toContain('"a"');
      expect((await owner.client.post('/api/apps/shop/schemas', { fields: [] })).status).toBe(400);
      expect((await owner.client.post('/api/apps/shop/schemas', { name: 'things', fields: [{ name: 'a' }] })).status).toBe(400);
      expect((await owner.client.get('/api/apps/shop/schemas/things')).status).toBe(404);
    });

    it('lists schemas by name and gets one; 404 for an unknown schema', async () => {
      const list = await reader.client.get('/api/apps/shop/schemas');
      expect(list.status).toBe(200);
      expect(list.body.items.map((s: Schema) => s.name)).toEqual(['notes', 'posts', 'products']);
      const one = await reader.client.get('/api/apps/shop/schemas/products');
      expect(one.status).toBe(200);
      expect(one.body).toEqual(list.body.items[2]);
      const missing = await reader.client.get('/api/apps/shop/schemas/nope');
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.stringContaining('"nope"') });
    });

    it('adds fields with 200 and the whole schema; refuses duplicates (409) and unknown types (400)', async () => {
      const before = (await owner.client.get('/api/apps/shop/schemas/posts')).body as Schema;
      const res = await developer.client.post('/api/apps/shop/schemas/posts/fields', { name: 'body', type: 'String' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: before.id, name: 'posts', version: 1, created: before.created });
      expect(res.body.fields).toEqual([...before.fields, { name: 'body', type: 'String', required: false }]);
      expect((await owner.client.post('/api/apps/shop/schemas/posts/fields', { name: 'tags', type: 'Json', required: false })).body.version).toBe(2);
      const duplicate = await owner.client.post('/api/apps/shop/schemas/posts/fields', { name: 'body', type: 'Number' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.message).toContain('"body"');
      const unknown = await owner.client.post('/api/apps/shop/schemas/posts/fields', { name: 'rating', type: 'Stars' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toContain('"rating"');
      expect((await owner.client.post('/api/apps/shop/schemas/nope/fields', { name: 'x', type: 'String' })).status).toBe(404);
    });

    it('checks roles on every schema route', async () => {
      let n = 0;
      await expectStatuses(
        (c) => c.post('/api/apps/shop/schemas', { name: `roles-${(n += 1)}`, fields: [] }),
        { admin: 201, owner: 201, developer: 201, editor: 403, reader: 403, stranger: 403, anonymous: 401 },
      );
      const readable = { admin: 200, owner: 200, developer: 200, editor: 200, reader: 200, stranger: 403, anonymous: 401 };
      await expectStatuses((c) => c.get('/api/apps/shop/schemas'), readable);
      await expectStatuses((c) => c.get('/api/apps/shop/schemas/products'), readable);
      await expectStatuses(
        (c) => c.post('/api/apps/shop/schemas/roles-1/fields', { name: `f${(n += 1)}`, type: 'String' }),
        { admin: 200, owner: 200, developer: 200, editor: 403, reader: 403, stranger: 403, anonymous: 401 },
      );
      // Each maintainer deletes its own schema; everyone else tries one that a broken guard would answer 404 for.
      const doomed = new Map<ApiClient, string>([
        [server.admin, 'roles-1'],
        [owner.client, 'roles-2'],
        [developer.client, 'roles-3'],
      ]);
      await expectStatuses(
        (c) => c.delete(`/api/apps/shop/schemas/${doomed.get(c) ?? 'roles-1'}`),
        { admin: 204, owner: 204, developer: 204, editor: 403, reader: 403, stranger: 403, anonymous: 401 },
      );
      expect((await owner.client.get('/api/apps/shop/schemas')).body.items.map((s: Schema) => s.name)).toEqual(['notes', 'posts', 'products']);
      for (const path of ['/api/apps/nope/schemas', '/api/apps/nope/schemas/products']) expect((await owner.client.get(path)).status).toBe(404);
      expect((await owner.client.post('/api/apps/nope/schemas', { name: 'x', fields: [] })).status).toBe(404);
      expect((await owner.client.delete('/api/apps/shop/schemas/nope')).status).toBe(404);
    });

    it('deletes a schema: its contents leave every read and its name can be reused', async () => {
      expect((await owner.client.post('/api/apps/shop/schemas', { name: 'temp', fields: [{ name: 'title', type: 'String' }] })).status).toBe(201);
      const old = await createContent(editor.client, 'temp', { title: 'kept in history only' });
      expect((await owner.client.delete('/api/apps/shop/schemas/temp')).status).toBe(204);
      expect((await owner.client.get('/api/apps/shop/schemas/temp')).status).toBe(404);
      expect((await owner.client.delete('/api/apps/shop/schemas/temp')).status).toBe(404);
      expect((await owner.client.get(`/api/apps/shop/content/temp/${old.id}`)).status).toBe(404);
      expect((await owner.client.get('/api/apps/shop/content/temp')).status).toBe(404);
      expect((await editor.client.post('/api/apps/shop/content/temp', { data: { title: 'x' } })).status).toBe(404);
      const again = await owner.client.post('/api/apps/shop/schemas', { name: 'temp', fields: [{ name: 'label', type: 'String' }] });
      expect(again.status).toBe(201);
      expect(again.body.version).toBe(0);
      expect((await owner.client.get('/api/apps/shop/content/temp')).body).toEqual({ total: 0, items: [] });
      expect((await owner.client.get(`/api/apps/shop/content/temp/${old.id}`)).status).toBe(404);
      expect((await owner.client.put(`/api/apps/shop/content/temp/${old.id}`, { data: { label: 'x' } })).status).toBe(404);
    });
  });

  describe('contents', () => {
    let lamp: Content;

    it('creates Draft content, and Published content with ?publish=true', async () => {
      const data = {
        title: 'Blue whale lamp',
        price: 42.5,
        inStock: true,
        released: '2024-05-01T12:00:00.000Z',
        meta: { colours: ['blue', 'grey'], size: { h: 30 } },
        images: ['asset-1', 'asset-2'],
        related: [],
      };
      const res = await editor.client.post('/api/apps/shop/content/products', { data });
      expect(res.status).toBe(201);
      lamp = res.body as Content;
      expect(lamp).toEqual({
        id: expect.any(String),
        schema: 'products',
        data,
        status: 'Draft',
        version: 0,
        created: expect.any(String),
        createdBy: editor.id,
        lastModified: lamp.created,
        lastModifiedBy: editor.id,
      });
      expect(isIso(lamp.created)).toBe(true);
      expect(res.headers.get('etag')).toBe('"0"');
      const published = await createContent(developer.client, 'products', { title: 'Red desk lamp', related: [lamp.id] }, true);
      expect(published).toMatchObject({ status: 'Published', version: 0, createdBy: developer.id, data: { title: 'Red desk lamp', related: [lamp.id] } });
      const explicit = await editor.client.post('/api/apps/shop/content/products?publish=false', { data: { title: 'Green lamp' } });
      expect(explicit.body.status).toBe('Draft');
      const got = await reader.client.get(`/api/apps/shop/content/products/${lamp.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(lamp);
      expect(got.headers.get('etag')).toBe('"0"');
    });

    it('refuses data that breaks the schema with a 400 naming the field', async () => {
      const cases: [unknown, string][] = [
        [{ title: 'x', colour: 'red' }, 'data.colour: schema "products" has no field "colour"'],
        [{ price: 3 }, 'data.title: is required'],
        [{ title: 7 }, 'data.title: must be a String'],
        [{ title: 'x', price: '3' }, 'data.price: must be a Number'],
        [{ title: 'x', inStock: 'yes' }, 'data.inStock: must be a Boolean'],
        [{ title: 'x', released: '2024-02-30T10:00:00Z' }, 'data.released: must be a DateTime'],
        [{ title: 'x', released: 'next week' }, 'data.released: must be a DateTime'],
        [{ title: 'x', images: 'asset-1' }, 'data.images: must be Assets'],
        [{ title: 'x', related: [1] }, 'data.related: must be References'],
        [[{ title: 'x' }], 'data: must be an object'],
        ['x', 'data: must be an object'],
        [undefined, 'data: must be an object'],
      ];
      for (const [data, message] of cases) {
        const res = await editor.client.post('/api/apps/shop/content/products', data === undefined ? {} : { data });
        expect(res.status, JSON.stringify(data)).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
        expect(res.body.message).toContain(message);
      }
      const put = await editor.client.put(`/api/apps/shop/content/products/${lamp.id}`, { data: { title: 'x', price: true } });
      expect(put.status).toBe(400);
      expect(put.body.message).toContain('data.price: must be a Number');
      expect((await editor.client.post('/api/apps/shop/content/products?publish=maybe', { data: { title: 'x' } })).status).toBe(400);
      expect((await editor.client.get(`/api/apps/shop/content/products/${lamp.id}`)).body.version).toBe(0);
    });

    it('updates content; If-Match must name the current version (409 otherwise)', async () => {
      const url = `/api/apps/shop/content/products/${lamp.id}`;
      const first = await developer.client.put(url, { data: { ...lamp.data, price: 40 } });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ version: 1, createdBy: editor.id, lastModifiedBy: developer.id, created: lamp.created, data: { price: 40 } });
      expect(first.headers.get('etag')).toBe('"1"');
      const stale = await editor.client.put(url, { data: { title: 'Stale write' } }, { 'if-match': '0' });
      expect(stale.status).toBe(409);
      expect(stale.body.message).toContain('version 1');
      expect((await editor.client.get(url)).body.data.title).toBe('Blue whale lamp');
      const right = await editor.client.put(url, { data: { ...lamp.data, price: 39 } }, { 'if-match': '1' });
      expect(right.status).toBe(200);
      expect(right.body).toMatchObject({ version: 2, lastModifiedBy: editor.id, data: { price: 39 } });
      const etagForm = await editor.client.put(url, { data: { ...lamp.data, price: 38 } }, { 'if-match': '"2"' });
      expect(etagForm.body.version).toBe(3);
      expect((await editor.client.put(url, { data: { title: 'x' } }, { 'if-match': 'latest' })).status).toBe(400);
      const same = await editor.client.put(url, { data: { ...lamp.data, price: 38 } });
      expect(same.body.version).toBe(3);
      lamp = (await editor.client.get(url)).body as Content;
      expect(lamp.version).toBe(3);
    });

    it('publishes and archives; Archived content must go back to Draft before edits', async () => {
      const url = `/api/apps/shop/content/products/${lamp.id}`;
      const published = await editor.client.put(`${url}/status`, { status: 'Published' });
      expect(published.status).toBe(200);
      expect(published.body).toMatchObject({ status: 'Published', version: 4, lastModifiedBy: editor.id });
      expect((await editor.client.put(`${url}/status`, { status: 'Published' })).body.version).toBe(4);
      expect((await editor.client.put(`${url}/status`, { status: 'Archived' }, { 'if-match': '3' })).status).toBe(409);
      const archived = await owner.client.put(`${url}/status`, { status: 'Archived' }, { 'if-match': '4' });
      expect(archived.body).toMatchObject({ status: 'Archived', version: 5 });
      const frozen = await editor.client.put(url, { data: { title: 'Changed' } });
      expect(frozen.status).toBe(409);
      expect(frozen.body.message).toContain('Archived');
      const bad = await editor.client.put(`${url}/status`, { status: 'Live' });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('Draft, Published, Archived');
      expect((await editor.client.put(`${url}/status`, {})).status).toBe(400);
      expect((await editor.client.put(`${url}/status`, { status: 'Draft' })).body).toMatchObject({ status: 'Draft', version: 6 });
      lamp = (await editor.client.get(url)).body as Content;
    });

    it('deletes content: 204, then 404 everywhere and no longer listed', async () => {
      const doomed = await createContent(editor.client, 'products', { title: 'Doomed lamp' });
      const url = `/api/apps/shop/content/products/${doomed.id}`;
      expect((await editor.client.delete(url)).status).toBe(204);
      expect((await editor.client.get(url)).status).toBe(404);
      expect((await editor.client.put(url, { data: { title: 'x' } })).status).toBe(404);
      expect((await editor.client.put(`${url}/status`, { status: 'Published' })).status).toBe(404);
      expect((await editor.client.delete(url)).status).toBe(404);
      const list = await editor.client.get('/api/apps/shop/content/products?top=200');
      expect(list.body.items.map((c: Content) => c.id)).not.toContain(doomed.id);
    });

    it('searches the data: every word must match; nothing matches an unknown word', async () => {
      const search = async (q: string) => {
        const res = await reader.client.get(`/api/apps/shop/content/products?q=${encodeURIComponent(q)}`);
        expect(res.status, q).toBe(200);
        return (res.body.items as Content[]).map((c) => c.data.title).sort();
      };
      expect(await search('lamp')).toEqual(['Blue whale lamp', 'Green lamp', 'Red desk lamp']);
      expect(await search('WHALE')).toEqual(['Blue whale lamp']);
      expect(await search('blue lamp')).toEqual(['Blue whale lamp']);
      expect(await search('red whale')).toEqual([]);
      // Numbers are words too. Reference ids are indexed with the data, so a random id with a part
      // starting "38" may match as well; nothing else may.
      const byNumber = (await reader.client.get('/api/apps/shop/content/products?q=38')).body.items as Content[];
      expect(byNumber.map((c) => c.data.title)).toContain('Blue whale lamp');
      for (const other of byNumber.filter((c) => c.data.title !== 'Blue whale lamp')) expect(JSON.stringify(other.data.related ?? [])).toMatch(/["-]38/);
      expect(await search('grey')).toEqual(['Blue whale lamp']);
      const none = await reader.client.get('/api/apps/shop/content/products?q=zebra');
      expect(none.body).toEqual({ total: 0, items: [] });
      expect((await reader.client.get('/api/apps/shop/content/products?q=%22(*%20OR')).body.total).toBe(0);
      await createContent(editor.client, 'posts', { title: 'A whale of a time' });
      expect(await search('time')).toEqual([]);
      expect((await reader.client.get('/api/apps/shop/content/posts?q=whale')).body.total).toBe(1);
    });

    it('pages newest first with top and skip, always reporting the total', async () => {
      const made: Content[] = [];
      for (let i = 1; i <= 7; i += 1) {
        made.push(await createContent(editor.client, 'notes', {}));
        // Distinct creation times, so "newest first" has exactly one right answer.
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      const all = await reader.client.get('/api/apps/shop/content/notes');
      expect(all.status).toBe(200);
      expect(all.body.total).toBe(7);
      const ids = (all.body.items as Content[]).map((c) => c.id);
      expect(ids).toEqual(made.map((c) => c.id).reverse());
      const pages: string[] = [];
      for (const skip of [0, 3, 6]) {
        const page = await reader.client.get(`/api/apps/shop/content/notes?top=3&skip=${skip}`);
        expect(page.body.total).toBe(7);
        expect(page.body.items.length).toBe(skip === 6 ? 1 : 3);
        pages.push(...page.body.items.map((c: Content) => c.id));
      }
      expect(pages).toEqual(ids);
      expect((await reader.client.get('/api/apps/shop/content/notes?skip=50')).body).toEqual({ total: 7, items: [] });
      expect((await reader.client.get('/api/apps/shop/content/notes?top=200')).body.items.length).toBe(7);
      for (const query of ['top=0', 'top=1001', 'top=abc', 'top=1.5', 'skip=-1', 'skip=x', 'top=', 'top=1&top=2']) {
        const res = await reader.client.get(`/api/apps/shop/content/notes?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.body.message).toMatch(/^(top: must be a whole number from 1 to 1000|skip: must be a whole number 0 or more)/);
      }
      expect((await reader.client.get('/api/apps/shop/content/notes?q=a&q=b')).body.message).toBe('q: must be given once');
    });

    it('checks roles on every content route', async () => {
      const writers = { admin: 0, owner: 0, developer: 0, editor: 0, reader: 403, stranger: 403, anonymous: 401 };
      const readable = { admin: 200, owner: 200, developer: 200, editor: 200, reader: 200, stranger: 403, anonymous: 401 };
      const mine = new Map<ApiClient, Content>();
      await expectStatuses(
        async (c) => {
          const res = await c.post('/api/apps/shop/content/posts', { data: { title: 'Role check' } });
          if (res.status === 201) mine.set(c, res.body as Content);
          return res;
        },
        { ...writers, admin: 201, owner: 201, developer: 201, editor: 201 },
      );
      const target = (c: ApiClient) => (mine.get(c) ?? mine.get(owner.client)!).id;
      await expectStatuses((c) => c.get('/api/apps/shop/content/posts'), readable);
      await expectStatuses((c) => c.get(`/api/apps/shop/content/posts/${target(c)}`), readable);
      await expectStatuses((c) => c.put(`/api/apps/shop/content/posts/${target(c)}`, { data: { title: 'Changed' } }), { ...writers, admin: 200, owner: 200, developer: 200, editor: 200 });
      await expectStatuses((c) => c.put(`/api/apps/shop/content/posts/${target(c)}/status`, { status: 'Published' }), { ...writers, admin: 200, owner: 200, developer: 200, editor: 200 });
      await expectStatuses((c) => c.delete(`/api/apps/shop/content/posts/${target(c)}`), { ...writers, admin: 204, owner: 204, developer: 204, editor: 204 });
    });

    it('answers 404 for an unknown app, schema or content, and for content of another schema', async () => {
      const paths = ['/api/apps/nope/content/products', `/api/apps/nope/content/products/${lamp.id}`, '/api/apps/shop/content/nope', `/api/apps/shop/content/nope/${lamp.id}`];
      for (const path of paths) expect((await owner.client.get(path)).status, path).toBe(404);
      expect((await owner.client.post('/api/apps/shop/content/nope', { data: {} })).status).toBe(404);
      const unknown = '00000000-0000-4000-8000-000000000000';
      for (const path of [`/api/apps/shop/content/products/${unknown}`, `/api/apps/shop/content/posts/${lamp.id}`, '/api/apps/shop/content/products/not--an--id']) {
        expect((await owner.client.get(path)).status, path).toBe(404);
        expect((await owner.client.put(path, { data: { title: 'x' } })).status, path).toBe(404);
        expect((await owner.client.put(`${path}/status`, { status: 'Draft' })).status, path).toBe(404);
        expect((await owner.client.delete(path)).status, path).toBe(404);
      }
      expect((await owner.client.get(`/api/apps/shop/content/products/${lamp.id}`)).body).toEqual(lamp);
    });
  });

  it('forgets the schemas and contents of a deleted app; a new app with its name starts empty', async () => {
    expect((await owner.client.post('/api/apps', { name: 'gone' })).status).toBe(201);
    expect((await owner.client.post('/api/apps/gone/schemas', { name: 'pages', fields: [{ name: 'title', type: 'String' }] })).status).toBe(201);
    await owner.client.post('/api/apps/gone/content/pages', { data: { title: 'Hello' } });
    expect((await owner.client.delete('/api/apps/gone')).status).toBe(204);
    expect((await owner.client.post('/api/apps', { name: 'gone' })).status).toBe(201);
    expect((await owner.client.get('/api/apps/gone/schemas')).body).toEqual({ total: 0, items: [] });
    expect((await owner.client.get('/api/apps/gone/content/pages')).status).toBe(404);
  });

  it('answers every read exactly the same after the projections are rebuilt from the events', async () => {
    const snapshot = async () => {
      const reads: Record<string, unknown> = {};
      const read = async (path: string) => {
        const res = await server.admin.get(path);
        reads[path] = { status: res.status, body: res.body };
        return res.body;
      };
      for (const app of ['shop', 'gone']) {
        const schemas = (await read(`/api/apps/${app}/schemas`)) as { items: Schema[] };
        for (const schema of schemas.items) {
          await read(`/api/apps/${app}/schemas/${schema.name}`);
          const base = `/api/apps/${app}/content/${schema.name}`;
          const list = (await read(`${base}?top=200`)) as { items: Content[] };
          await read(base);
          await read(`${base}?top=2&skip=1`);
          await read(`${base}?q=lamp`);
          for (const content of list.items) await read(`${base}/${content.id}`);
        }
      }
      await read('/api/apps/shop/schemas/temp');
      return reads;
    };
    const before = await snapshot();
    expect(Object.keys(before).length).toBeGreaterThan(20);
    const projector = server.app.get(Projector);
    await projector.rebuildAll();
    expect(await snapshot()).toEqual(before);
    const shop = await server.admin.get('/api/apps/shop');
    await server.app.get(AppReplays).rebuildApp(shop.body.id as string);
    expect(await snapshot()).toEqual(before);
  });
});
