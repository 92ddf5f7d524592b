import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { waitForJob } from '../support/fixtures.js';
import { tempDir } from '../support/test-server.js';

const EVENTS = 60_000;

/** Appends many events to an app offline, so a backup or restore of it takes long enough to be killed mid-way. */
async function growApp(dataDir: string, appId: string, fromVersion: number): Promise<void> {
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  try {
    let version = fromVersion;
    for (let done = 0; done < EVENTS; done += 5000) {
      const events = Array.from({ length: 5000 }, (_, i) => ({
        type: 'AppUpdated',
        data: { label: `Label ${done + i}`, description: 'x'.repeat(200) },
        metadata: { appId, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 },
      }));
      version = (await store.append(streams.app(appId), events, version)).streamVersion;
    }
  } finally {
    await store.close();
  }
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

describe('crash recovery with a real process killed by SIGKILL', () => {
  let server: ChildServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('marks a backup killed mid-way Failed at start-up and leaves no partial archive; a restore killed mid-way and cancelled leaves nothing', async () => {
    const dataDir = tempDir();
    server = await startChildServer(dataDir);
    const created = await server.admin.post('/api/apps', { name: 'big' });
    expect(created.status).toBe(201);
    await server.stop();
    await growApp(dataDir, created.body.id, created.body.version);

    server = await startChildServer(dataDir);
    const backup = await server.admin.post('/api/apps/big/backups', {});
    expect(backup.status).toBe(202);
    await until(async () => ((await server!.admin.get(`/api/backups/${backup.body.id}`)).body.status === 'Running' ? true : undefined), 'the backup to run');
    await until(async () => (files(join(dataDir, 'blobs', '.tmp')).length > 0 ? true : undefined), 'the archive to be written');
    await server.kill();
    expect(files(join(dataDir, 'blobs', '.tmp')).length, 'a partial archive was being written').toBeGreaterThan(0);

    server = await startChildServer(dataDir);
    const failed = await server.admin.get(`/api/backups/${backup.body.id}`);
    expect(failed.body.status).toBe('Failed');
    expect(failed.body.error).toMatch(/server stopped while this backup was running/);
    expect(files(join(dataDir, 'blobs', 'backups'))).toEqual([]);
    expect(files(join(dataDir, 'blobs', '.tmp'))).toEqual([]);
    expect((await server.admin.get(`/api/backups/${backup.body.id}/archive`)).status).toBe(409);

    const complete = await server.admin.post('/api/apps/big/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${complete.body.id}`)).status).toBe('Completed');

    const restore = await server.admin.post('/api/restore', { backupId: complete.body.id, name: 'big-copy' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    const appId = await until(async () => {
      const job = (await server!.admin.get(`/api/restore/${restore.body.id}`)).body;
      return job.appId && job.log.some((l: { message: string }) => l.message.startsWith('Step: events') || l.message.startsWith('Restoring events')) ? (job.appId as string) : undefined;
    }, 'the restore to write events');
    await new Promise((r) => setTimeout(r, 200));
    await server.kill();
    const events = new SqliteEventStore(join(dataDir, 'events.db'));
    let written = 0;
    for await (const _ of events.readApp(appId)) written += 1;
    await events.close();
    expect(written, 'the restore had written events before it was killed').toBeGreaterThan(0);

    // A restore killed mid-way is Interrupted, not cleaned up (test/e2e/restore-resume.e2e.spec.ts resumes one);
    // cancelled, it leaves nothing, as a failure does.
    server = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    const job = (await server.admin.get(`/api/restore/${restore.body.id}`)).body;
    expect(job.status).toBe('Interrupted');
    expect((await server.admin.get('/api/apps/big-copy')).status).toBe(404);
    const cancelled = await server.admin.delete(`/api/restore/${restore.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('Failed');
    expect((await server.admin.get('/api/apps/big-copy')).status).toBe(404);
    const check = new SqliteEventStore(join(dataDir, 'events.db'));
    let left = 0;
    for await (const _ of check.readApp(appId)) left += 1;
    await check.close();
    expect(left).toBe(0);
    expect(files(join(dataDir, 'blobs', 'assets', appId))).toEqual([]);
    expect(files(join(dataDir, 'tmp'))).toEqual([]);
    expect((await server.admin.post('/api/apps', { name: 'big-copy' })).status).toBe(201);
  });
});
