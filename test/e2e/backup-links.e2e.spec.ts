import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { createCast, startServer, type Actor, type TestServer } from '../support/test-server.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer; headers: Headers; json?: { message: string } }> {
  const response = await fetch(url, { headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  const json = (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(bytes.toString('utf8')) : undefined;
  return { status: response.status, bytes, headers: response.headers, json };
}

describe('download links and resumable archive downloads', () => {
  let server: TestServer;
  let owner: Actor;
  let developer: Actor;
  let reader: Actor;
  let backup: { id: string; sha256: string; sizeBytes: number };
  let whole: Buffer;

  beforeAll(async () => {
    server = await startServer();
    ({ owner, developer, reader } = await createCast(server, 'linked'));
    await owner.client.post('/api/apps/linked/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    for (let i = 0; i < 40; i++) await owner.client.post('/api/apps/linked/content/notes', { data: { text: `note ${i} ${'x'.repeat(200)}` } });
    await owner.client.post('/api/apps/linked/assets', fileForm(Buffer.alloc(300_000, 7), 'blob.bin', 'application/octet-stream'));
    const started = await owner.client.post('/api/apps/linked/backups', {});
    backup = (await waitForJob(owner.client, `/api/apps/linked/backups/${started.body.id}`)) as typeof backup;
    whole = (await owner.client.bytes(`/api/apps/linked/backups/${backup.id}/archive`)).bytes;
    expect(sha256(whole)).toBe(backup.sha256);
  }, 60_000);
  afterAll(async () => {
    vi.useRealTimers();
    await server?.close();
  });

  const link = async (expiresIn: unknown = '1h', client = owner.client) => {
    const res = await client.post(`/api/apps/linked/backups/${backup.id}/links`, expiresIn === null ? {} : { expiresIn });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; url: string; expires: string };
  };

  it('makes a link that serves the archive without a key, with its digest and ETag', async () => {
    const before = Date.now();
    const made = await link('2h');
    expect(Object.keys(made).sort()).toEqual(['expires', 'id', 'url']);
    expect(Math.abs(Date.parse(made.expires) - before - 2 * 3600_000)).toBeLessThan(5_000);
    expect(made.url.startsWith(`${server.url}/api/links/${made.id}/archive?`)).toBe(true);
    const download = await get(made.url);
    expect(download.status).toBe(200);
    expect(sha256(download.bytes)).toBe(backup.sha256);
    expect(download.headers.get('content-type')).toBe('application/zip');
    expect(download.headers.get('etag')).toBe(`"${backup.sha256}"`);
    expect(download.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(backup.sha256, 'hex').toString('base64')}:`);
    expect(download.headers.get('accept-ranges')).toBe('bytes');
    expect(download.headers.get('digest')).toBeNull();
    // Defaults to a day.
    const daily = await link(null);
    expect(Math.abs(Date.parse(daily.expires) - Date.now() - 24 * 3600_000)).toBeLessThan(5_000);
  });

  it('serves byte ranges (206), refuses a range past the end (416) and honours If-Range and If-None-Match', async () => {
    const { url } = await link();
    const size = backup.sizeBytes;
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, size - 1],
      ['bytes=-50', size - 50, size - 1],
      [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
    ];
    for (const [range, start, end] of cases) {
      for (const target of [url, `${server.url}/api/apps/linked/backups/${backup.id}/archive`]) {
        const res = await get(target, { range, authorization: `Bearer ${owner.client.token}` });
        expect(res.status, range).toBe(206);
        expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${size}`);
        expect(res.bytes.equals(whole.subarray(start, end + 1)), range).toBe(true);
        expect(res.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(backup.sha256, 'hex').toString('base64')}:`);
      }
    }
    // Resuming a cut download gives the same file.
    const cut = whole.subarray(0, Math.floor(size / 3));
    const rest = await get(url, { range: `bytes=${cut.length}-`, 'if-range': `"${backup.sha256}"` });
    expect(sha256(Buffer.concat([cut, rest.bytes]))).toBe(backup.sha256);
    const past = await get(url, { range: `bytes=${size}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(past.json?.message).toContain(`${size} bytes`);
    // A changed file (another ETag) is sent whole; several ranges are sent whole too.
    expect((await get(url, { range: 'bytes=0-9', 'if-range': '"other"' })).status).toBe(200);
    expect((await get(url, { range: 'bytes=0-9,20-29' })).bytes.length).toBe(size);
    expect((await get(url, { 'if-none-match': `"${backup.sha256}"` })).status).toBe(304);
  });

  it('refuses a link that was altered or made up (403), and one revoked or expired (410)', async () => {
    const made = await link();
    const url = new URL(made.url);
    const altered = (change: (u: URL) => void) => {
      const copy = new URL(url);
      change(copy);
      return copy.toString();
    };
    const signature = url.searchParams.get('signature')!;
    for (const bad of [
      altered((u) => u.searchParams.set('signature', `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`)),
      altered((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))),
      altered((u) => u.searchParams.delete('signature')),
      altered((u) => u.searchParams.delete('expires')),
      altered((u) => (u.pathname = u.pathname.replace(made.id, '00000000-0000-4000-8000-000000000000'))),
    ]) {
      const res = await get(bad);
      expect(res.status, bad).toBe(403);
      expect(res.json?.message).toContain('not valid');
    }
    expect((await owner.client.delete(`/api/apps/linked/backups/${backup.id}/links/${made.id}`)).status).toBe(204);
    const revoked = await get(made.url);
    expect(revoked.status).toBe(410);
    expect(revoked.json?.message).toMatch(/revoked at .*Ask for a new link/);

    const soon = await link(60);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
    try {
      const expired = await get(soon.url);
      expect(expired.status).toBe(410);
      expect(expired.json?.message).toBe(`This download link expired at ${soon.expires}. Ask for a new link.`);
    } finally {
      vi.useRealTimers();
    }
    const list = (await owner.client.get(`/api/apps/linked/backups/${backup.id}/links`)).body;
    const states = new Map(list.items.map((l: { id: string; state: string }) => [l.id, l.state]));
    expect(states.get(made.id)).toBe('revoked');
    expect(states.get(soon.id)).toBe('active');
    expect(JSON.stringify(list)).not.toContain(signature);
  });

  it('checks who may make links, and what expiresIn may be', async () => {
    expect((await reader.client.post(`/api/apps/linked/backups/${backup.id}/links`, { expiresIn: '1h' })).status).toBe(403);
    expect((await server.client().post(`/api/apps/linked/backups/${backup.id}/links`, { expiresIn: '1h' })).status).toBe(401);
    expect((await server.admin.post(`/api/backups/${backup.id}/links`, { expiresIn: 3600 })).status).toBe(201);
    expect((await owner.client.post(`/api/backups/${backup.id}/links`, { expiresIn: 3600 })).status).toBe(403);
    for (const expiresIn of ['10s', 59, '31d', 'soon', '1.5h', -1, 3600.5, '']) {
      const res = await owner.client.post(`/api/apps/linked/backups/${backup.id}/links`, { expiresIn });
      expect(res.status, String(expiresIn)).toBe(400);
      expect(res.body.message, String(expiresIn)).toBe('expiresIn: must be a duration from 60s to 30d, like "15m", "1h" or "7d", or whole seconds');
    }
    const unknown = await owner.client.post(`/api/apps/linked/backups/${backup.id}/links`, { expiresIn: '1h', public: true });
    expect(unknown.body.message).toBe('unknown field "public"');
    expect((await owner.client.post('/api/apps/linked/backups/no-such-backup/links', {})).status).toBe(404);
  });

  it('ends every link of a backup when the backup is deleted', async () => {
    const started = await owner.client.post('/api/apps/linked/backups', { label: 'short-lived' });
    const doomed = await waitForJob(owner.client, `/api/apps/linked/backups/${started.body.id}`);
    const res = await owner.client.post(`/api/apps/linked/backups/${doomed.id}/links`, {});
    expect((await get(res.body.url)).status).toBe(200);
    expect((await owner.client.delete(`/api/apps/linked/backups/${doomed.id}`)).status).toBe(204);
    const after = await get(res.body.url);
    expect(after.status).toBe(410);
    expect(after.json?.message).toBe('The backup behind this download link was deleted.');
  });

  it("ends a link when its maker loses the right to make it (removed, or no longer Owner or Developer), and keeps everyone else's", async () => {
    const byDeveloper = await link('1h', developer.client);
    const byOwner = await link('1h');
    const byAdmin = (await server.admin.post(`/api/backups/${backup.id}/links`, { expiresIn: '1h' })).body as { url: string };
    const served = async (url: string) => (await get(url)).status;
    const role = async (r: string) => expect((await owner.client.post('/api/apps/linked/contributors', { email: 'dev@example.com', role: r })).status).toBe(200);
    const endedForMaker = async () => {
      const res = await get(byDeveloper.url);
      expect(res.status).toBe(410);
      expect(res.json?.message).toBe(
        'The person who made this download link no longer has access to the app (as an Owner or Developer, or an administrator); their links ended with it. Ask for a new link.',
      );
    };
    expect(await served(byDeveloper.url)).toBe(200);
    for (const demoted of ['Editor', 'Reader']) {
      await role(demoted);
      await endedForMaker();
      // The others' links go on: an Owner's, and an admin's (admins contribute to nothing).
      expect(await served(byOwner.url), demoted).toBe(200);
      expect(await served(byAdmin.url), demoted).toBe(200);
    }
    // Access is checked when the link is used: given back, the maker's link serves again.
    await role('Developer');
    expect(await served(byDeveloper.url)).toBe(200);
    expect((await owner.client.delete(`/api/apps/linked/contributors/${developer.id}`)).status).toBe(200);
    await endedForMaker();
    expect(await served(byOwner.url)).toBe(200);
    expect(sha256((await get(byOwner.url)).bytes)).toBe(backup.sha256);
    await role('Developer');
  });

  it('ends every link into an app when the app is deleted; an admin can still download its backups', async () => {
    expect((await owner.client.post('/api/apps', { name: 'short-app' })).status).toBe(201);
    const started = await owner.client.post('/api/apps/short-app/backups', {});
    const done = await waitForJob(owner.client, `/api/apps/short-app/backups/${started.body.id}`);
    expect(done.status).toBe('Completed');
    const made = (await owner.client.post(`/api/apps/short-app/backups/${done.id}/links`, {})).body as { url: string };
    expect((await get(made.url)).status).toBe(200);
    expect((await owner.client.delete('/api/apps/short-app')).status).toBe(204);
    const after = await get(made.url);
    expect(after.status).toBe(410);
    expect(after.json?.message).toBe('The app behind this download link was deleted; its links ended with it. An administrator can still download the backup, or make a new link for it.');
    // A new app under the same name is another app: the old links stay dead.
    expect((await owner.client.post('/api/apps', { name: 'short-app' })).status).toBe(201);
    expect((await get(made.url)).status).toBe(410);
    const kept = await server.admin.bytes(`/api/backups/${done.id}/archive`);
    expect(kept.status).toBe(200);
    expect(sha256(kept.bytes)).toBe(done.sha256);
    // A link an admin makes now, for the deleted app's backup (to move it elsewhere), serves: it was made for a backup without its app.
    const rescue = await server.admin.post(`/api/backups/${done.id}/links`, {});
    expect(rescue.status).toBe(201);
    const rescued = await get((rescue.body as { url: string }).url);
    expect(rescued.status).toBe(200);
    expect(sha256(rescued.bytes)).toBe(done.sha256);
    const listed = await server.admin.get(`/api/backups/${done.id}/links`);
    expect(listed.status).toBe(200);
    expect(Object.keys(listed.body.items[0]).sort()).toEqual(['appId', 'backupId', 'created', 'createdBy', 'expires', 'id', 'revoked', 'state']);
    // ...and the old link, made while the app lived, stays dead.
    expect((await get(made.url)).status).toBe(410);
  });
});
