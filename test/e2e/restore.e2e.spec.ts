import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobFaults } from '../../src/jobs/job-faults.js';
import { RESTORE_STEPS, type RestoreStep } from '../../src/backup/restore/restore-job.js';
import { buildApp, type BuiltApp, fileForm, waitForJob } from '../support/fixtures.js';
import { type ApiClient, startServer, type TestServer } from '../support/test-server.js';
import { traces } from '../support/traces.js';

type Json = Record<string, unknown>;

async function allPages(client: ApiClient, path: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let skip = 0; ; skip += 200) {
    const page = await client.get(`${path}${path.includes('?') ? '&' : '?'}top=200&skip=${skip}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...page.body.items);
    if (items.length >= page.body.total) return items;
  }
}

async function history(client: ApiClient, app: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let after = 0; ; after += 1000) {
    const page = await client.get(`/api/apps/${app}/events?after=${after}&take=1000`);
    items.push(...page.body.items);
    if (page.body.items.length < 1000) return items;
  }
}

/** Every read endpoint of an app, with the app's own id and name taken out. */
async function snapshot(client: ApiClient, app: string, assets: BuiltApp['assets']) {
  const appDoc = (await client.get(`/api/apps/${app}`)).body;
  const schemas = (await client.get(`/api/apps/${app}/schemas`)).body.items;
  const contents: Record<string, Json[]> = {};
  for (const schema of schemas as { name: string }[]) contents[schema.name] = await allPages(client, `/api/apps/${app}/content/${schema.name}`);
  const search = (await client.get(`/api/apps/${app}/content/products?q=zebra&top=200`)).body;
  const assetList = await allPages(client, `/api/apps/${app}/assets`);
  const files: Record<string, string> = {};
  for (const asset of assets) {
    for (let v = 0; v < asset.versions.length; v++) {
      const res = await client.bytes(`/api/apps/${app}/assets/${asset.id}/content?version=${v}`);
      files[`${asset.id}/${v}`] = `${res.status} ${res.headers.get('content-type')} ${res.bytes.toString('base64')}`;
    }
  }
  const events = (await history(client, app)).map((e) => ({ ...e, stream: String(e.stream).replace(appDoc.id, 'APP') }));
  return { app: appDoc, schemas, contents, search, assets: assetList, files, events };
}

describe('restore', () => {
  let source: TestServer;
  let admin: ApiClient;
  let built: BuiltApp;
  let backupId: string;
  let eventCount: number;
  let archive: Buffer;
  let owner: ApiClient;
  let dev: ApiClient;
  let devId: string;

  beforeAll(async () => {
    source = await startServer();
    admin = source.admin;
    const o = await admin.post('/api/users', { email: 'owner@example.com', displayName: 'Olga' });
    const d = await admin.post('/api/users', { email: 'dev@example.com', displayName: 'Dev' });
    const e = await admin.post('/api/users', { email: 'editor@example.com', displayName: 'Ed' });
    owner = source.client(o.body.apiKey);
    dev = source.client(d.body.apiKey);
    devId = d.body.id;
    const editor = source.client(e.body.apiKey);
    await owner.post('/api/apps', { name: 'shop', label: 'Shop', description: 'Things for sale' });
    await owner.post('/api/apps/shop/contributors', { email: 'dev@example.com', role: 'Developer' });
    await owner.post('/api/apps/shop/contributors', { email: 'editor@example.com', role: 'Editor' });
    built = await buildApp('shop', [owner, dev, editor], { contents: 520, updates: 300 });
    const backup = await owner.post('/api/apps/shop/backups', {});
    const job = await waitForJob(owner, `/api/apps/shop/backups/${backup.body.id}`);
    expect(job.status).toBe('Completed');
    backupId = backup.body.id;
    eventCount = job.eventCount as number;
    archive = (await owner.bytes(`/api/apps/shop/backups/${backupId}/archive`)).bytes;
  });
  afterAll(async () => {
    await source?.close();
  });

  it('clones an app from a backup id: every read answers the same but ids, names and the new Owner', async () => {
    const started = await admin.post('/api/restore', { backupId, name: 'shop-copy' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ status: 'Scheduled', source: `backup:${backupId}`, name: 'shop-copy' });
    const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
    expect(job.status, JSON.stringify(job.log)).toBe('Completed');
    expect(job).toMatchObject({ eventCount, restoredEvents: eventCount, restoredAssets: 9 });
    const messages = (job.log as { at: string; message: string }[]).map((l) => l.message);
    expect(messages.some((m) => /^events \d+\/\d+$/.test(m))).toBe(true);
    expect(messages.at(-1)).toMatch(/Restore completed/);

    const original = await snapshot(admin, 'shop', built.assets);
    const copy = await snapshot(admin, 'shop-copy', built.assets);
    expect(copy.app.id).not.toBe(original.app.id);
    expect(copy.app.name).toBe('shop-copy');
    const adminId = (await admin.get('/api/users/me')).body.id;
    const strip = (a: Json) => ({ ...a, id: 'X', name: 'X', version: 0, lastModified: 'X', lastModifiedBy: 'X', contributors: 'X' });
    expect(strip(copy.app)).toEqual(strip(original.app));
    expect(copy.app.contributors).toEqual([...(original.app.contributors as Json[]), { userId: adminId, email: 'admin@localhost', role: 'Owner' }]);
    expect(copy.schemas).toEqual(original.schemas);
    expect(copy.contents).toEqual(original.contents);
    expect(copy.search).toEqual(original.search);
    expect(copy.search.total).toBeGreaterThan(0);
    expect(copy.assets).toEqual(original.assets);
    expect(copy.files).toEqual(original.files);

    // History: the same events in the same order with the same times and actors, then the new Owner.
    expect(copy.events.length).toBe(original.events.length + 1);
    const rename = (e: Json) => (e.type === 'AppCreated' ? { ...e, data: { ...(e.data as Json), appId: 'X', name: 'X' } } : e);
    expect(copy.events.slice(0, -1).map(rename)).toEqual(original.events.map(rename));
    expect(copy.events.at(-1)).toMatchObject({ type: 'AppContributorAssigned', actor: adminId, data: { userId: adminId, role: 'Owner' } });

    // Writing to the clone leaves the original alone.
    await admin.put(`/api/apps/shop-copy/content/products/${built.contentIds[0]}`, { data: { title: 'only in the copy' } });
    expect((await admin.get(`/api/apps/shop/content/products/${built.contentIds[0]}`)).body.data.title).not.toBe('only in the copy');
  });

  it('restores a point in time by event number and by time', async () => {
    const events = await history(admin, 'shop');
    const byEvent = await admin.post('/api/restore', { backupId, name: 'shop-at-40', untilEvent: 40 });
    expect((await waitForJob(admin, `/api/restore/${byEvent.body.id}`)).status).toBe('Completed');
    const restored = await history(admin, 'shop-at-40');
    expect(restored.slice(0, 40).map((e) => [e.type, e.timestamp])).toEqual(events.slice(0, 40).map((e) => [e.type, e.timestamp]));
    expect(restored).toHaveLength(41);

    const cut = events[300]!.timestamp as string;
    const expected = events.filter((e) => Date.parse(e.timestamp as string) <= Date.parse(cut)).length;
    const byTime = await admin.post('/api/restore', { backupId, name: 'shop-at-time', until: cut });
    expect((await waitForJob(admin, `/api/restore/${byTime.body.id}`)).status).toBe('Completed');
    expect(await history(admin, 'shop-at-time')).toHaveLength(expected + 1);

    const beyond = await admin.post('/api/restore', { backupId, name: 'shop-beyond', untilEvent: eventCount + 1 });
    expect(beyond.status).toBe(400);
    expect((await admin.post('/api/restore', { backupId, untilEvent: 2, until: cut, name: 'both' })).status).toBe(400);
  });

  it('refuses a taken or reserved name (409), a second restore while one runs (409) and non-admins (403)', async () => {
    const taken = await admin.post('/api/restore', { backupId });
    expect(taken.status).toBe(409);
    expect(taken.body.message).toMatch(/"shop" is already taken/);

    const faults = source.app.get(JobFaults).of<RestoreStep>('restore');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    faults.onStep = async (step) => {
      if (step === 'events') await gate;
    };
    try {
      const first = await admin.post('/api/restore', { backupId, name: 'held' });
      expect(first.status).toBe(202);
      const second = await admin.post('/api/restore', { backupId, name: 'other' });
      expect(second.status).toBe(409);
      expect(second.body.message).toMatch(/Another restore is running/);
      const upload = await admin.post('/api/restore', fileForm(archive, 'b.zip', 'application/zip'));
      expect(upload.status).toBe(409);
      const reserved = await owner.post('/api/apps', { name: 'held' });
      expect(reserved.status).toBe(409);
      expect(reserved.body.message).toMatch(/reserved/);
      release();
      expect((await waitForJob(admin, `/api/restore/${first.body.id}`)).status).toBe('Completed');
    } finally {
      faults.onStep = undefined;
      release();
    }
    for (const client of [owner, dev]) {
      expect((await client.post('/api/restore', { backupId, name: 'nope' })).status).toBe(403);
      expect((await client.get('/api/restore')).status).toBe(403);
    }
    expect((await source.client().post('/api/restore', { backupId })).status).toBe(401);
    expect((await admin.get('/api/restore/unknown')).status).toBe(404);
    expect((await admin.post('/api/restore', { backupId: 'unknown', name: 'x' })).status).toBe(404);
    expect((await admin.post('/api/restore', { name: 'x' })).status).toBe(400);
    expect((await admin.post('/api/restore', { backupId, name: 'Bad Name' })).status).toBe(400);
    const list = await admin.get('/api/restore');
    const created = list.body.items.map((r: { created: string }) => r.created);
    expect(created).toEqual([...created].sort().reverse());
  });

  it('keeps the name reserved for as long as the restore runs, however short the reservation TTL', async () => {
    const quick = await startServer({ NAME_RESERVATION_TTL_MS: '1000' });
    try {
      const faults = quick.app.get(JobFaults).of<RestoreStep>('restore');
      faults.onStep = async (step) => {
        if (step === 'verify') await new Promise((r) => setTimeout(r, 2500));
      };
      const form = fileForm(archive, 'backup.zip', 'application/zip');
      form.append('name', 'long-one');
      const started = await quick.admin.post('/api/restore', form);
      expect(started.status).toBe(202);
      await new Promise((r) => setTimeout(r, 1800));
      const grab = await quick.admin.post('/api/apps', { name: 'long-one' });
      expect(grab.status, 'the reservation must outlive its TTL while the restore runs').toBe(409);
      const job = await waitForJob(quick.admin, `/api/restore/${started.body.id}`);
      expect(job.status, JSON.stringify(job.log)).toBe('Completed');
      expect((await quick.admin.get('/api/apps/long-one')).status).toBe(200);
    } finally {
      await quick.close();
    }
  });

  it.each(RESTORE_STEPS)('leaves no trace and frees the name when the %s step fails', async (step) => {
    const faults = source.app.get(JobFaults).of<RestoreStep>('restore');
    faults.failAt = step;
    try {
      const name = `fail-${step}`;
      const started = await admin.post('/api/restore', { backupId, name });
      expect(started.status).toBe(202);
      const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
      expect(job.status).toBe('Failed');
      expect(job.error).toBe(`Injected failure at step "${step}"`);
      const log = (job.log as { message: string }[]).map((l) => l.message);
      expect(log.at(-1)).toMatch(/nothing of the new app remains/);
      if (job.appId) expect(traces(source.dataDir, job.appId as string)).toEqual({ events: 0, readRows: 0, blobs: 0 });
      if (['events', 'assets', 'rebuild', 'owner', 'commit'].includes(step)) expect(job.appId).toBeTruthy();
      expect((await admin.get(`/api/apps/${name}`)).status).toBe(404);
      const reuse = await owner.post('/api/apps', { name });
      expect(reuse.status).toBe(201);
    } finally {
      faults.failAt = undefined;
    }
  });

  it('restores an uploaded archive, named after the app in it unless a name is given', async () => {
    const form = fileForm(archive, 'backup.zip', 'application/zip');
    form.append('name', 'uploaded');
    const started = await admin.post('/api/restore', form);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body.source).toBe('upload:backup.zip');
    const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
    expect(job.status, JSON.stringify(job.log)).toBe('Completed');
    expect((await admin.get('/api/apps/uploaded/content/products?top=1')).body.total).toBe(built.contentIds.length);
    expect((await admin.post('/api/restore', new FormData())).status).toBe(400);
  });

  describe('hostile and broken archives', () => {
    const upload = async (bytes: Buffer, name: string) => {
      const form = fileForm(bytes, 'evil.zip', 'application/zip');
      form.append('name', name);
      const started = await admin.post('/api/restore', form);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      return waitForJob(admin, `/api/restore/${started.body.id}`);
    };

    it('refuses a truncated archive', async () => {
      const job = await upload(archive.subarray(0, Math.floor(archive.length / 2)), 'truncated');
      expect(job.status).toBe('Failed');
      expect(job.error).toMatch(/not a readable zip archive|truncated|damaged/);
      expect((await admin.get('/api/apps/truncated')).status).toBe(404);
    });

    it('refuses something that is not a zip at all', async () => {
      const job = await upload(Buffer.from('just some text, not a zip'), 'notzip');
      expect(job.status).toBe('Failed');
      expect(job.error).toMatch(/not a readable zip archive/);
    });

    it('refuses an archive whose bytes were changed (checksum mismatch)', async () => {
      const { tamper } = await import('../support/zip-tamper.js');
      const job = await upload(await tamper(archive, 'users.json', (b) => Buffer.from(b.toString().replace('owner@example.com', 'ownex@example.com'))), 'tampered');
      expect(job.status).toBe('Failed');
      expect(job.error).toMatch(/does not match its SHA-256|has \d+ bytes, the manifest says/);
    });

    it('refuses zip-slip entry names', async () => {
      const { tamper } = await import('../support/zip-tamper.js');
      const job = await upload(await tamper(archive, '../../etc/evil', () => Buffer.from('boom')), 'slip');
      expect(job.status).toBe('Failed');
      expect(job.error).toMatch(/not part of the backup format|invalid relative path|absolute path/);
    });

    it('refuses a zip bomb: an entry far larger than the manifest says', async () => {
      const { tamper } = await import('../support/zip-tamper.js');
      const job = await upload(await tamper(archive, 'users.json', () => Buffer.alloc(50 * 1024 * 1024, 0x20)), 'bomb');
      expect(job.status).toBe('Failed');
      expect(job.error).toMatch(/manifest says/);
    });
  });

  describe('from a URL', () => {
    let files: Server;
    let base: string;
    beforeAll(async () => {
      files = createHttpServer((req, res) => {
        if (req.url === '/backup.zip') {
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': archive.length });
          res.end(archive);
        } else if (req.url === '/redirect-loopback') {
          res.writeHead(302, { location: `http://127.0.0.1:${(files.address() as AddressInfo).port}/backup.zip` });
          res.end();
        } else if (req.url === '/redirect-metadata') {
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
          res.end();
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => files.close(resolve));
    });

    it('refuses loopback, private and non-http URLs unless the host is allowed', async () => {
      const refusedNow = ['file:///etc/passwd', 'ftp://example.com/x.zip', 'gopher://x', 'not a url'];
      for (const url of refusedNow) {
        const res = await admin.post('/api/restore', { url, name: 'by-url' });
        expect(res.status, url).toBe(400);
      }
      for (const url of [`${base}/backup.zip`, 'http://localhost:1/x.zip', 'http://10.0.0.1/x.zip', 'http://192.168.1.1/x.zip', 'http://169.254.169.254/x', 'http://[::1]/x.zip']) {
        const started = await admin.post('/api/restore', { url, name: 'by-url' });
        expect(started.status, url).toBe(202);
        const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
        expect(job.status, url).toBe('Failed');
        expect(job.error, url).toMatch(/loopback, private, link-local or reserved address/);
        expect((await admin.get('/api/apps/by-url')).status).toBe(404);
      }
    });

    it('downloads from an allowed host, but refuses a redirect to a blocked address', async () => {
      const allowed = await startServer({ RESTORE_ALLOWED_HOSTS: 'localhost' });
      try {
        const redirected = await allowed.admin.post('/api/restore', { url: `http://localhost:${(files.address() as AddressInfo).port}/redirect-loopback`, name: 'redirected' });
        const job = await waitForJob(allowed.admin, `/api/restore/${redirected.body.id}`);
        expect(job.status).toBe('Failed');
        expect(job.error).toMatch(/127\.0\.0\.1.*loopback|loopback.*127\.0\.0\.1/);
        const meta = await allowed.admin.post('/api/restore', { url: `http://localhost:${(files.address() as AddressInfo).port}/redirect-metadata`, name: 'meta' });
        expect((await waitForJob(allowed.admin, `/api/restore/${meta.body.id}`)).error).toMatch(/169\.254\.169\.254.*link-local|loopback, private, link-local/);
        const ok = await allowed.admin.post('/api/restore', { url: `http://localhost:${(files.address() as AddressInfo).port}/backup.zip` });
        const done = await waitForJob(allowed.admin, `/api/restore/${ok.body.id}`);
        expect(done.status, JSON.stringify(done.log)).toBe('Completed');
        expect(done.name).toBe('shop');
      } finally {
        await allowed.close();
      }
    });
  });

  it('migrates an app between installations by URL, mapping users by email', async () => {
    const target = await startServer({ RESTORE_ALLOWED_HOSTS: '127.0.0.1' });
    try {
      const existingDev = await target.admin.post('/api/users', { email: 'dev@example.com', displayName: 'Dev on target' });
      await target.admin.post('/api/users', { email: 'someone@else.com' });
      // The source's Developer makes a download link; the target fetches it without any key.
      const link = await dev.post(`/api/apps/shop/backups/${backupId}/links`, { expiresIn: '15m' });
      expect(link.status).toBe(201);
      const signature = new URL(link.body.url).searchParams.get('signature')!;
      expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const started = await target.admin.post('/api/restore', { url: link.body.url });
      expect(started.status).toBe(202);
      expect(started.body.source).not.toContain(signature);
      const job = await waitForJob(target.admin, `/api/restore/${started.body.id}`);
      expect(job.status, JSON.stringify(job.log)).toBe('Completed');
      expect(JSON.stringify(job)).not.toContain(signature);
      // Once revoked, the source refuses the link, and the target's restore from it fails with that reason.
      expect((await dev.delete(`/api/apps/shop/backups/${backupId}/links/${link.body.id}`)).status).toBe(204);
      expect((await fetch(link.body.url)).status).toBe(410);
      const again = await target.admin.post('/api/restore', { url: link.body.url, name: 'shop-again' });
      const refused = await waitForJob(target.admin, `/api/restore/${again.body.id}`);
      expect(refused.status).toBe('Failed');
      expect(refused.error).toMatch(/answered HTTP 410 \(This download link was revoked at .*Ask for a new link\.\)/);
      expect(refused.error).not.toContain(signature);
      expect((await target.admin.get('/api/apps/shop-again')).status).toBe(404);
      const app = (await target.admin.get('/api/apps/shop')).body;
      const users = (await target.admin.get('/api/users')).body.items as { id: string; email: string }[];
      const byEmail = new Map(users.map((u) => [u.email, u.id]));
      expect(byEmail.get('dev@example.com')).toBe(existingDev.body.id);
      expect(byEmail.get('dev@example.com')).not.toBe(devId);
      expect(app.contributors.map((c: Json) => [c.email, c.role]).sort()).toEqual(
        [['admin@localhost', 'Owner'], ['dev@example.com', 'Developer'], ['editor@example.com', 'Editor'], ['owner@example.com', 'Owner']].sort(),
      );
      for (const c of app.contributors as Json[]) expect(c.userId).toBe(byEmail.get(c.email as string));
      const events = await history(target.admin, 'shop');
      const actors = new Set(events.map((e) => e.actor));
      for (const actor of actors) expect([...byEmail.values()]).toContain(actor);
      expect(actors.has(existingDev.body.id)).toBe(true);
      const sourceEvents = await history(admin, 'shop');
      expect(events.slice(0, -1).map((e) => [e.type, e.timestamp])).toEqual(sourceEvents.map((e) => [e.type, e.timestamp]));
      for (const asset of built.assets) {
        const bytes = await target.admin.bytes(`/api/apps/shop/assets/${asset.id}/content?version=2`);
        expect(bytes.bytes.equals(asset.versions[2]!.bytes)).toBe(true);
      }
      // Users created by the restore have no key: they cannot sign in until an admin gives them one.
      const created = users.find((u) => u.email === 'owner@example.com')!;
      expect(created).toBeDefined();
    } finally {
      await target.close();
    }
  });
});
