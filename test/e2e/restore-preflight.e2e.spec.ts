import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { createCast, startServer, type TestServer } from '../support/test-server.js';
import { tamper } from '../support/zip-tamper.js';

/** What a dry run must leave as it was: jobs, apps, users, temporary files. */
async function snapshot(server: TestServer) {
  const tmp = join(server.dataDir, 'tmp');
  let files: string[] = [];
  try {
    files = readdirSync(tmp);
  } catch {
    // no temporary folder yet
  }
  return {
    restores: (await server.admin.get('/api/restore')).body.total,
    apps: (await server.admin.get('/api/apps')).body.items.map((a: { name: string }) => a.name),
    users: (await server.admin.get('/api/users')).body.total,
    tmp: files,
  };
}

describe('restore dry run (preflight)', () => {
  let server: TestServer;
  let backupId: string;
  let archive: Buffer;

  beforeAll(async () => {
    server = await startServer();
    const { owner } = await createCast(server, 'shop');
    await owner.client.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    for (let i = 0; i < 12; i++) await owner.client.post('/api/apps/shop/content/notes', { data: { text: `note ${i}` } });
    await owner.client.post('/api/apps/shop/assets', fileForm(Buffer.from('file bytes'), 'f.txt', 'text/plain'));
    const started = await owner.client.post('/api/apps/shop/backups', {});
    const backup = await waitForJob(owner.client, `/api/apps/shop/backups/${started.body.id}`);
    backupId = String(backup.id);
    archive = (await server.admin.bytes(`/api/backups/${backupId}/archive`)).bytes;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('reports what a restore of a stored backup would do, and writes nothing', async () => {
    const before = await snapshot(server);
    const res = await server.admin.post('/api/restore', { backupId, name: 'shop-copy', dryRun: true });
    expect(res.status).toBe(200);
    const backup = (await server.admin.get(`/api/backups/${backupId}`)).body;
    expect(res.body).toMatchObject({
      dryRun: true,
      valid: true,
      error: null,
      source: `backup:${backupId}`,
      sizeBytes: backup.sizeBytes,
      name: { value: 'shop-copy', available: true, reason: null },
      app: { name: 'shop' },
      events: { inArchive: backup.eventCount, toRestore: backup.eventCount },
      files: 1,
    });
    // The cast's users exist here: a restore maps them all and creates nobody.
    expect(res.body.users.created).toEqual([]);
    expect(res.body.users.mapped).toEqual(expect.arrayContaining(['owner@example.com', 'dev@example.com', 'editor@example.com', 'reader@example.com']));
    expect(Date.parse(res.body.archive.firstEventAt)).toBeLessThanOrEqual(Date.parse(res.body.archive.lastEventAt));
    expect(await snapshot(server)).toEqual(before);
  });

  it('says when the name is taken, and counts a point in time', async () => {
    const taken = await server.admin.post('/api/restore', { backupId, dryRun: true, untilEvent: 5 });
    expect(taken.status).toBe(200);
    expect(taken.body).toMatchObject({ valid: false, error: null, name: { value: 'shop', available: false }, events: { toRestore: 5 } });
    expect(taken.body.name.reason).toContain('exists');
    const bad = await server.admin.post('/api/restore', { backupId, dryRun: true, name: 'Not A Name' });
    expect(bad.body).toMatchObject({ valid: false, name: { available: false } });
  });

  it('checks an uploaded archive, refusing a tampered one with the reason a restore gives', async () => {
    const before = await snapshot(server);
    const upload = (bytes: Buffer) => {
      const form = fileForm(bytes, 'shop.zip', 'application/zip');
      const fields = new FormData();
      fields.append('dryRun', 'true');
      fields.append('name', 'uploaded');
      for (const [key, value] of form.entries()) fields.append(key, value);
      return server.admin.post('/api/restore', fields);
    };
    const good = await upload(archive);
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ dryRun: true, valid: true, source: 'upload:shop.zip', sizeBytes: archive.length });
    const broken = await tamper(archive, 'events/000001.ndjson', (old) => Buffer.from(old.toString('utf8').replace('"shop"', '"shoq"')));
    const refused = await upload(broken);
    expect(refused.status).toBe(200);
    expect(refused.body.valid).toBe(false);
    expect(refused.body.error).toMatch(/events\/000001\.ndjson/);
    expect(await snapshot(server)).toEqual(before);
  });

  it('reports a URL it may not fetch as the reason, and refuses bad requests as a restore would', async () => {
    const blocked = await server.admin.post('/api/restore', { url: 'http://127.0.0.1:9/x.zip', dryRun: true });
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatchObject({ valid: false, sizeBytes: null, app: null });
    expect(blocked.body.error).toMatch(/loopback, private, link-local or reserved address/);
    expect((await server.admin.post('/api/restore', { backupId: 'nope', dryRun: true })).status).toBe(404);
    expect((await server.admin.post('/api/restore', { backupId, dryRun: true, untilEvent: 2, until: '2026-01-01T00:00:00Z' })).status).toBe(400);
    expect((await server.admin.post('/api/restore', { backupId, dryRun: 'yes' })).body.message).toBe('dryRun: must be a boolean');
    const { owner } = { owner: server.client('not-a-key') };
    expect((await owner.post('/api/restore', { backupId, dryRun: true })).status).toBe(401);
  });
});
