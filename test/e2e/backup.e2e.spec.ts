import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-key.js';
import { buildApp, type BuiltApp, waitForJob } from '../support/fixtures.js';
import { ADMIN_TOKEN, type ApiClient, startServer, type TestServer, tempDir } from '../support/test-server.js';
import { readZip } from '../support/zip-inspect.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Line {
  number: number;
  stream: string;
  streamVersion: number;
  type: string;
  actor: string;
  timestamp: string;
  data: Record<string, unknown>;
}

describe('backups over HTTP', () => {
  let server: TestServer;
  let owner: { id: string; client: ApiClient; key: string };
  let dev: { id: string; client: ApiClient; key: string };
  let editor: { id: string; client: ApiClient; key: string };
  let reader: { id: string; client: ApiClient; key: string };
  let built: BuiltApp;

  const user = async (email: string) => {
    const res = await server.admin.post('/api/users', { email, displayName: email.split('@')[0] });
    return { id: res.body.id as string, key: res.body.apiKey as string, client: server.client(res.body.apiKey as string) };
  };

  beforeAll(async () => {
    server = await startServer({ MAX_BACKUPS_PER_APP: '3' });
    owner = await user('owner@example.com');
    dev = await user('dev@example.com');
    editor = await user('editor@example.com');
    reader = await user('reader@example.com');
    await user('bystander@example.com');
    expect((await owner.client.post('/api/apps', { name: 'shop' })).status).toBe(201);
    await owner.client.post('/api/apps/shop/contributors', { email: 'dev@example.com', role: 'Developer' });
    await owner.client.post('/api/apps/shop/contributors', { email: 'editor@example.com', role: 'Editor' });
    await owner.client.post('/api/apps/shop/contributors', { email: 'reader@example.com', role: 'Reader' });
    built = await buildApp('shop', [owner.client, dev.client, editor.client], { contents: 520, updates: 1000 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('backs up the app while writes go on, into an archive that checks out independently', async () => {
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        // Skip the first 20: buildApp archives some of them, and archived content refuses edits.
        const id = built.contentIds[20 + (writes % (built.contentIds.length - 20))]!;
        const res = await editor.client.put(`/api/apps/shop/content/products/${id}`, { data: { title: `concurrent ${writes}` } });
        expect(res.status).toBe(200);
        writes += 1;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const started = await dev.client.post('/api/apps/shop/backups', { label: 'nightly' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'Scheduled', appName: 'shop', label: 'nightly', warnings: [] });
    const job = await waitForJob(dev.client, `/api/apps/shop/backups/${started.body.id}`);
    writing = false;
    await writer;
    expect(job.status, String(job.error)).toBe('Completed');
    expect(writes).toBeGreaterThan(0);

    const download = await dev.client.bytes(`/api/apps/shop/backups/${started.body.id}/archive`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/zip');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="backup-shop-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.zip"$/);
    expect(download.bytes.length).toBe(job.sizeBytes);
    expect(sha256(download.bytes)).toBe(job.sha256);
    const file = join(tempDir(), 'backup.zip');
    writeFileSync(file, download.bytes);
    const entries = await readZip(file);

    // Manifest: every other entry listed with the right size and checksum, nothing more.
    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    expect(manifest).toMatchObject({ format: 'appvault-backup', formatVersion: 1, app: { name: 'shop' } });
    const listed = new Map<string, { size: number; sha256: string }>(manifest.entries.map((e: { name: string; size: number; sha256: string }) => [e.name, e]));
    expect([...listed.keys()].sort()).toEqual([...entries.keys()].filter((n) => n !== 'manifest.json').sort());
    for (const [name, bytes] of entries) {
      if (name === 'manifest.json') continue;
      expect(bytes.length, name).toBe(listed.get(name)!.size);
      expect(sha256(bytes), name).toBe(listed.get(name)!.sha256);
    }

    // Events: numbered 1..N without gaps, in order, across bounded files.
    const eventFiles = [...entries.keys()].filter((n) => n.startsWith('events/')).sort();
    expect(eventFiles[0]).toBe('events/000001.ndjson');
    expect(eventFiles.length).toBe(manifest.counts.eventFiles);
    const events: Line[] = eventFiles.flatMap((n) => entries.get(n)!.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line));
    expect(eventFiles.length, JSON.stringify(manifest.counts)).toBeGreaterThan(1);
    expect(events.map((e) => e.number)).toEqual(events.map((_, i) => i + 1));
    expect(events.length).toBe(manifest.counts.events);
    expect(events.length).toBe(job.eventCount);
    expect(events.length).toBeGreaterThan(1500);

    // Consistency: the archive is exactly a prefix of the app's history; nothing half-included.
    const history: Line[] = [];
    for (let after = 0; ; after += 1000) {
      const page = await owner.client.get(`/api/apps/shop/events?after=${after}&take=1000`);
      history.push(...page.body.items);
      if (page.body.items.length < 1000) break;
    }
    expect(history.length).toBeGreaterThan(events.length - 1);
    expect(events.map((e) => [e.stream, e.type, e.timestamp, e.actor])).toEqual(history.slice(0, events.length).map((e) => [e.stream, e.type, e.timestamp, e.actor]));
    const perStream = new Map<string, number>();
    for (const e of events) {
      expect(e.streamVersion, e.stream).toBe(perStream.get(e.stream) ?? 0);
      perStream.set(e.stream, e.streamVersion + 1);
    }

    // Assets: every file version an event refers to, byte-identical to what the API serves.
    const versions = events.filter((e) => e.type === 'AssetCreated' || e.type === 'AssetFileReplaced');
    expect(versions.length).toBe(9);
    expect(manifest.counts.assets).toBe(9);
    for (const e of versions) {
      const assetId = e.stream.split('--')[1]!;
      const entry = entries.get(`assets/${assetId}/${e.data['fileVersion']}`);
      expect(entry, `${assetId}/${e.data['fileVersion']}`).toBeDefined();
      expect(sha256(entry!)).toBe(e.data['sha256']);
      const served = await reader.client.bytes(`/api/apps/shop/assets/${assetId}/content?version=${e.data['fileVersion']}`);
      expect(served.bytes.equals(entry!)).toBe(true);
    }
    for (const asset of built.assets) expect(entries.get(`assets/${asset.id}/2`)!.equals(asset.versions[2]!.bytes)).toBe(true);

    // users.json: exactly the users the events name (actors and contributors), without secrets.
    const named = new Set<string>();
    for (const e of events) {
      if (e.actor !== 'system') named.add(e.actor);
      if (e.type.startsWith('AppContributor')) named.add(e.data['userId'] as string);
    }
    const users = JSON.parse(entries.get('users.json')!.toString('utf8')) as Record<string, unknown>[];
    expect(users.map((u) => u['id']).sort()).toEqual([...named].sort());
    expect(users.map((u) => u['email']).sort()).toEqual(['dev@example.com', 'editor@example.com', 'owner@example.com', 'reader@example.com']);
    for (const u of users) expect(Object.keys(u).sort()).toEqual(['displayName', 'email', 'id']);
    expect(job.userCount).toBe(4);
    expect(job.assetCount).toBe(9);

    // No secret anywhere: not a key, not a key hash, in any entry.
    const secrets = [ADMIN_TOKEN, owner.key, dev.key, editor.key, reader.key];
    for (const [name, bytes] of entries) {
      const text = bytes.toString('latin1');
      for (const secret of secrets) {
        expect(text.includes(secret), `${name} contains a key`).toBe(false);
        expect(text.includes(hashApiKey(secret)), `${name} contains a key hash`).toBe(false);
      }
      expect(/apiKey|keyHash/i.test(name === 'manifest.json' || name.endsWith('.ndjson') || name === 'users.json' ? text : ''), name).toBe(false);
    }
  });

  it('answers 409 for a second backup while one runs and for a download before completion', async () => {
    const first = await owner.client.post('/api/apps/shop/backups', {});
    expect(first.status).toBe(202);
    const second = await owner.client.post('/api/apps/shop/backups', {});
    expect(second.status).toBe(409);
    expect(second.body.message).toMatch(/already running/);
    const early = await owner.client.get(`/api/apps/shop/backups/${first.body.id}/archive`);
    expect(early.status).toBe(409);
    expect((await owner.client.delete(`/api/apps/shop/backups/${first.body.id}`)).status).toBe(409);
    expect((await waitForJob(owner.client, `/api/apps/shop/backups/${first.body.id}`)).status).toBe('Completed');
  });

  it('enforces MAX_BACKUPS_PER_APP with a 409, and frees a place on delete', async () => {
    const third = await owner.client.post('/api/apps/shop/backups', {});
    expect(third.status).toBe(202);
    await waitForJob(owner.client, `/api/apps/shop/backups/${third.body.id}`);
    const over = await owner.client.post('/api/apps/shop/backups', {});
    expect(over.status).toBe(409);
    expect(over.body.message).toMatch(/limit is 3/);
    const list = await owner.client.get('/api/apps/shop/backups');
    expect(list.body.items).toHaveLength(3);
    const created = list.body.items.map((b: { created: string }) => b.created);
    expect(created).toEqual([...created].sort().reverse());
    expect((await owner.client.delete(`/api/apps/shop/backups/${third.body.id}`)).status).toBe(204);
    expect((await owner.client.get(`/api/apps/shop/backups/${third.body.id}`)).status).toBe(404);
    expect((await owner.client.get(`/api/apps/shop/backups/${third.body.id}/archive`)).status).toBe(404);
    expect(readdirSync(join(server.dataDir, 'blobs', 'backups')).some((f) => f.includes(third.body.id))).toBe(false);
    const again = await owner.client.post('/api/apps/shop/backups', {});
    expect(again.status).toBe(202);
    await waitForJob(owner.client, `/api/apps/shop/backups/${again.body.id}`);
  });

  it('checks roles on every backup route', async () => {
    const [any] = (await owner.client.get('/api/apps/shop/backups')).body.items;
    for (const who of [editor, reader]) {
      expect((await who.client.post('/api/apps/shop/backups', {})).status).toBe(403);
      expect((await who.client.get('/api/apps/shop/backups')).status).toBe(403);
      expect((await who.client.get(`/api/apps/shop/backups/${any.id}`)).status).toBe(403);
      expect((await who.client.get(`/api/apps/shop/backups/${any.id}/archive`)).status).toBe(403);
      expect((await who.client.delete(`/api/apps/shop/backups/${any.id}`)).status).toBe(403);
      expect((await who.client.get('/api/backups')).status).toBe(403);
      expect((await who.client.get(`/api/backups/${any.id}`)).status).toBe(403);
    }
    expect((await server.client().get('/api/apps/shop/backups')).status).toBe(401);
    expect((await server.client().get('/api/backups')).status).toBe(401);
    expect((await owner.client.get('/api/apps/shop/backups/no-such-id')).status).toBe(404);
    expect((await owner.client.get('/api/apps/nope/backups')).status).toBe(404);
    expect((await server.admin.get('/api/backups/no-such-id')).status).toBe(404);
  });

  it('lets admins list every backup and reach one by id after its app was deleted', async () => {
    await owner.client.post('/api/apps', { name: 'doomed' });
    await buildApp('doomed', [owner.client], { contents: 3, updates: 1, binaryBytes: 1000 });
    const started = await owner.client.post('/api/apps/doomed/backups', {});
    await waitForJob(owner.client, `/api/apps/doomed/backups/${started.body.id}`);
    expect((await owner.client.delete('/api/apps/doomed')).status).toBe(204);
    const all = await server.admin.get('/api/backups');
    expect(all.status).toBe(200);
    expect(all.body.items.map((b: { appName: string }) => b.appName)).toEqual(expect.arrayContaining(['shop', 'doomed']));
    const byId = await server.admin.get(`/api/backups/${started.body.id}`);
    expect(byId.body).toMatchObject({ appName: 'doomed', status: 'Completed' });
    const archive = await server.admin.bytes(`/api/backups/${started.body.id}/archive`);
    expect(archive.status).toBe(200);
    expect(sha256(archive.bytes)).toBe(byId.body.sha256);
    expect((await server.admin.delete(`/api/backups/${started.body.id}`)).status).toBe(204);
    expect((await server.admin.get(`/api/backups/${started.body.id}`)).status).toBe(404);
  });
});
