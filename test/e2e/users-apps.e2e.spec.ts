import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, createCast, startServer, type TestServer, tempDir } from '../support/test-server.js';
import { StartupService } from '../../src/platform/startup/startup.service.js';

describe('users and apps over HTTP', () => {
  let server: TestServer;
  let owner: { id: string; client: ApiClient };
  let developer: { id: string; client: ApiClient };
  let editor: { id: string; client: ApiClient };
  let reader: { id: string; client: ApiClient };
  let stranger: { id: string; client: ApiClient };

  beforeAll(async () => {
    server = await startServer();
    ({ owner, developer, editor, reader, stranger } = await createCast(server, 'shop', { label: 'Shop' }));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers /health without a key, naming the stores', async () => {
    const res = await server.client().get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', eventStore: 'sqlite', readStore: 'sqlite' });
  });

  it('refuses /api without a key or with a wrong one (401)', async () => {
    const none = await server.client().get('/api/apps');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    expect((await server.client('nope').get('/api/users/me')).status).toBe(401);
    expect((await server.client().post('/api/apps', { name: 'x' })).status).toBe(401);
  });

  it('answers malformed JSON with 400 and an oversized body with 413, in the error shape', async () => {
    const post = (body: string) =>
      fetch(`${server.url}/api/apps`, { method: 'POST', headers: { authorization: `Bearer ${server.admin.token}`, 'content-type': 'application/json' }, body });
    const bad = await post('{"name":');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const big = await post(JSON.stringify({ name: 'x'.repeat(6 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  describe('users', () => {
    it('lets an admin create users, shows the key once and never lists it', async () => {
      const res = await server.admin.post('/api/users', { email: 'New.Person@Example.com', displayName: 'New Person' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ email: 'new.person@example.com', displayName: 'New Person', admin: false });
      expect(res.body.apiKey).toMatch(/^av_/);
      const me = await server.client(res.body.apiKey).get('/api/users/me');
      expect(me.body).toEqual({ id: res.body.id, email: 'new.person@example.com', displayName: 'New Person', admin: false });
      const list = await server.admin.get('/api/users');
      expect(list.status).toBe(200);
      const listed = list.body.items.find((u: { id: string }) => u.id === res.body.id);
      expect(listed).toEqual({ id: res.body.id, email: 'new.person@example.com', displayName: 'New Person', admin: false });
      expect(JSON.stringify(list.body)).not.toContain('apiKey');
    });

    it('refuses a duplicate email (409), a bad email (400) and non-admins (403)', async () => {
      expect((await server.admin.post('/api/users', { email: 'OWNER@example.com' })).status).toBe(409);
      const bad = await server.admin.post('/api/users', { email: 'not-an-email' });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('email');
      expect((await owner.client.post('/api/users', { email: 'x@example.com' })).status).toBe(403);
      expect((await owner.client.get('/api/users')).status).toBe(403);
    });
  });

  describe('apps', () => {
    it('creates an app with the caller as Owner and the full App shape', async () => {
      const res = await developer.client.post('/api/apps', { name: 'blog', label: 'Blog', description: 'Posts' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        name: 'blog',
        label: 'Blog',
        description: 'Posts',
        createdBy: developer.id,
        lastModifiedBy: developer.id,
        contributors: [{ userId: developer.id, email: 'dev@example.com', role: 'Owner' }],
      });
      expect(typeof res.body.id).toBe('string');
      expect(typeof res.body.version).toBe('number');
      expect(new Date(res.body.created).toISOString()).toBe(res.body.created);
      expect(res.body).not.toHaveProperty('contributorIds');
    });

    it('refuses a taken name (409) and invalid names (400)', async () => {
      const taken = await stranger.client.post('/api/apps', { name: 'shop' });
      expect(taken.status).toBe(409);
      expect(taken.body.message).toContain('shop');
      for (const name of ['Shop', 'a--b', '-a', 'a'.repeat(41), '', 'sp ace']) {
        const res = await stranger.client.post('/api/apps', { name });
        expect(res.status, name).toBe(400);
      }
      expect((await stranger.client.post('/api/apps', {})).status).toBe(400);
    });

    it('lists only the apps a user contributes to; admins see all', async () => {
      const mine = await reader.client.get('/api/apps');
      expect(mine.body.items.map((a: { name: string }) => a.name)).toEqual(['shop']);
      expect((await stranger.client.get('/api/apps')).body.items.map((a: { name: string }) => a.name)).not.toContain('shop');
      const all = await server.admin.get('/api/apps');
      expect(all.body.items.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['shop', 'blog']));
    });

    it('lets every contributor read the app, but not strangers (403) and not unknown apps (404)', async () => {
      for (const c of [owner, developer, editor, reader]) expect((await c.client.get('/api/apps/shop')).status).toBe(200);
      expect((await server.admin.get('/api/apps/shop')).status).toBe(200);
      expect((await stranger.client.get('/api/apps/shop')).status).toBe(403);
      const missing = await owner.client.get('/api/apps/nope');
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });

    it('lets Owner and Developer update, not Editor or Reader', async () => {
      expect((await editor.client.put('/api/apps/shop', { label: 'x' })).status).toBe(403);
      expect((await reader.client.put('/api/apps/shop', { label: 'x' })).status).toBe(403);
      const before = (await owner.client.get('/api/apps/shop')).body;
      const res = await developer.client.put('/api/apps/shop', { label: 'The Shop', description: 'Things' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ label: 'The Shop', description: 'Things', lastModifiedBy: developer.id });
      expect(res.body.version).toBe(before.version + 1);
      expect((await owner.client.put('/api/apps/shop', { label: 'Shop' })).body.label).toBe('Shop');
    });

    it('manages contributors: Owner only, roles checked, the last Owner kept', async () => {
      expect((await developer.client.post('/api/apps/shop/contributors', { email: 'stranger@example.com', role: 'Reader' })).status).toBe(403);
      expect((await owner.client.post('/api/apps/shop/contributors', { email: 'stranger@example.com', role: 'King' })).status).toBe(400);
      expect((await owner.client.post('/api/apps/shop/contributors', { email: 'ghost@example.com', role: 'Reader' })).status).toBe(404);
      const added = await owner.client.post('/api/apps/shop/contributors', { email: 'stranger@example.com', role: 'Reader' });
      expect(added.status).toBe(200);
      expect(added.body.contributors).toContainEqual({ userId: stranger.id, email: 'stranger@example.com', role: 'Reader' });
      expect((await stranger.client.get('/api/apps/shop')).status).toBe(200);
      const removed = await owner.client.delete(`/api/apps/shop/contributors/${stranger.id}`);
      expect(removed.status).toBe(200);
      expect(removed.body.contributors.map((c: { userId: string }) => c.userId)).not.toContain(stranger.id);
      expect((await stranger.client.get('/api/apps/shop')).status).toBe(403);
      expect((await owner.client.delete(`/api/apps/shop/contributors/${stranger.id}`)).status).toBe(404);
      expect((await owner.client.delete(`/api/apps/shop/contributors/${owner.id}`)).status).toBe(409);
      expect((await owner.client.post('/api/apps/shop/contributors', { email: 'owner@example.com', role: 'Reader' })).status).toBe(409);
    });

    it('shows the history to Owner and Developer only, numbered from 1 in order, paged', async () => {
      expect((await editor.client.get('/api/apps/shop/events')).status).toBe(403);
      expect((await reader.client.get('/api/apps/shop/events')).status).toBe(403);
      const res = await developer.client.get('/api/apps/shop/events');
      expect(res.status).toBe(200);
      const items = res.body.items as { number: number; type: string; actor: string; stream: string; timestamp: string }[];
      expect(items.map((e) => e.number)).toEqual(items.map((_, i) => i + 1));
      expect(items[0]).toMatchObject({ number: 1, type: 'AppCreated', actor: owner.id });
      expect(items[1]).toMatchObject({ type: 'AppContributorAssigned', data: { userId: owner.id, role: 'Owner' } });
      expect(items.every((e) => e.stream.startsWith('app-'))).toBe(true);
      const page = await owner.client.get('/api/apps/shop/events?after=2&take=2');
      expect(page.body.items.map((e: { number: number }) => e.number)).toEqual([3, 4]);
      expect((await owner.client.get('/api/apps/shop/events?take=0')).status).toBe(400);
    });

    it('pages the history by cursor and answers 400, saying what a cursor looks like, to a bogus one', async () => {
      const first = await owner.client.get('/api/apps/shop/events?take=2');
      expect(first.body.next).toMatch(/^2\.\d+$/);
      const second = await owner.client.get(`/api/apps/shop/events?take=2&cursor=${first.body.next}`);
      expect(second.status).toBe(200);
      expect(second.body.items.map((e: { number: number }) => e.number)).toEqual([3, 4]);
      const [, position] = (first.body.next as string).split('.');
      const bogus = ['abc', '2.', '0.0', '-1.5', '2.1.1', '99999999999999999.1', '2.99999999999999999', `3.${position}`, `2.${Number(position) + 100000}`];
      for (const cursor of bogus) {
        const res = await owner.client.get(`/api/apps/shop/events?cursor=${encodeURIComponent(cursor)}`);
        expect(res.status, cursor).toBe(400);
        expect(res.body.message, cursor).toMatch(/^cursor: .*"next" value of the previous page unchanged: two whole numbers joined by a dot, like 200\.48213/);
      }
    });

    it('deletes an app (Owner only), frees its name and keeps its events', async () => {
      expect((await owner.client.post('/api/apps', { name: 'temp' })).status).toBe(201);
      await owner.client.post('/api/apps/temp/contributors', { email: 'dev@example.com', role: 'Developer' });
      expect((await developer.client.delete('/api/apps/temp')).status).toBe(403);
      expect((await owner.client.delete('/api/apps/temp')).status).toBe(204);
      expect((await owner.client.get('/api/apps/temp')).status).toBe(404);
      const again = await stranger.client.post('/api/apps', { name: 'temp' });
      expect(again.status).toBe(201);
      expect(again.body.contributors).toEqual([{ userId: stranger.id, email: 'stranger@example.com', role: 'Owner' }]);
    });
  });
});

describe('start-up', () => {
  it('generates an admin key when ADMIN_TOKEN is unset, writes it with mode 0600 and keeps it across restarts', async () => {
    const dataDir = tempDir();
    const { loadConfig } = await import('../../src/config/app-config.js');
    const { createServer } = await import('../../src/server.js');
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0' });
    const first = await createServer(config, { quiet: true });
    await first.listen(0, '127.0.0.1');
    await first.get(StartupService).whenSettled();
    expect(first.get(StartupService).state).toBe('ready');
    await first.close();
    const file = join(dataDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8').trim();
    expect(key).toMatch(/^av_/);
    const server = await startServer({ ADMIN_TOKEN: '' }, dataDir);
    try {
      const me = await server.client(key).get('/api/users/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ email: 'admin@localhost', admin: true });
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
    } finally {
      await server.close();
    }
  });
});
