import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import { waitForJob } from '../support/fixtures.js';
import { growOffline } from '../support/grow.js';
import { dumpReadModels, type ReadModels, sampleWords } from '../support/read-models.js';
import { ADMIN_TOKEN, ApiClient, startServer, tempDir, type TestServer } from '../support/test-server.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The built server as its own process, returned as soon as it listens (before it is ready). */
async function spawnListening(dataDir: string): Promise<{ child: ChildProcess; url: string; admin: ApiClient; exited: Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`The server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/live`)).status === 200) return { child, url, admin: new ApiClient(url, ADMIN_TOKEN), exited };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('The server did not listen in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function ready(url: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; ) {
    if ((await fetch(`${url}/health/ready`)).status === 200) return;
    if (Date.now() > deadline) throw new Error('The server was not ready in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the server keeps answering while it replays', () => {
  const children: ChildProcess[] = [];
  let server: TestServer | undefined;
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await server?.close();
    server = undefined;
  });

  it('listens at once, says "starting" while it catches up, and holds requests until it is ready', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 12_000 });
    const started = await spawnListening(dataDir);
    children.push(started.child);
    const health = await started.admin.get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'starting', eventStore: 'sqlite', readStore: 'sqlite' });
    expect(health.body.projectionLag).toBeGreaterThan(0);
    const notReady = await started.admin.get('/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body.status).toBe('starting');
    expect((await started.admin.get('/health/live')).status).toBe(200);
    // Sent while catching up, answered once caught up: from complete read models, never half-built ones.
    const apps = await started.admin.get('/api/apps');
    expect(apps.status).toBe(200);
    expect(apps.body.items.map((a: { name: string }) => a.name)).toEqual(['big', 'other']);
    const contents = await started.admin.get('/api/apps/big/content/articles?top=1');
    expect(contents.body.total).toBeGreaterThan(500);
    expect((await started.admin.get('/health')).body).toMatchObject({ status: 'ok', projectionLag: 0 });
    expect((await started.admin.get('/health/ready')).status).toBe(200);
  });

  it('survives SIGKILL in the middle of catching up: the next start ends with the same read models', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 15_000 });
    const reference = tempDir();
    copyFileSync(join(dataDir, 'events.db'), join(reference, 'events.db'));
    copyFileSync(join(dataDir, 'claims.db'), join(reference, 'claims.db'));
    cpSync(join(dataDir, 'blobs'), join(reference, 'blobs'), { recursive: true });

    const first = await spawnListening(dataDir);
    children.push(first.child);
    const initialLag = (await first.admin.get('/health')).body.projectionLag as number;
    // Killed once some chunks are written but well before the end.
    for (;;) {
      const lag = (await first.admin.get('/health')).body.projectionLag as number;
      if (lag < initialLag * 0.8) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await first.admin.get('/health').catch(() => ({ status: 0 }))).status).toBe(0);

    const second = await spawnListening(dataDir);
    children.push(second.child);
    await ready(second.url);
    second.child.kill('SIGTERM');
    await second.exited;

    const clean = await spawnListening(reference);
    children.push(clean.child);
    await ready(clean.url);
    clean.child.kill('SIGTERM');
    await clean.exited;

    // Each installation made its own first admin at its first start; everything else must be equal.
    const withoutAdmin = (models: ReadModels): ReadModels => ({ ...models, docs: { ...models.docs, users: Object.fromEntries(Object.entries(models.docs['users']!).filter(([, u]) => (u as { email: string }).email !== 'admin@localhost')) } });
    const words = sampleWords(dumpReadModels(reference, []));
    const expected = withoutAdmin(dumpReadModels(reference, words));
    expect(Object.keys(expected.docs['contents']!).length).toBeGreaterThan(1000);
    expect(Object.keys(expected.docs['users']!).length).toBe(6);
    expect(withoutAdmin(dumpReadModels(dataDir, words))).toEqual(expected);
  });

  it('answers requests to another app while a restore of a large app is projecting it', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 20_000 });
    server = await startServer({}, dataDir);
    const backup = await server.admin.post('/api/apps/big/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const restore = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'big-copy' });
    const path = `/api/restore/${restore.body.id}`;
    // Once the restore appends and projects events, keep reading the other app until it is done.
    for (;;) {
      const job = (await server.admin.get(path)).body;
      if (job.log.some((line: { message: string }) => line.message.startsWith('Restoring events'))) break;
      expect(job.status).not.toBe('Failed');
      await new Promise((r) => setTimeout(r, 5));
    }
    let answeredWhileRunning = 0;
    let answeredMidway = 0;
    for (;;) {
      const other = await server.admin.get('/api/apps/other/content/articles?top=3');
      expect(other.status).toBe(200);
      expect(other.body.items.length).toBe(3);
      const job = (await server.admin.get(path)).body;
      if (job.status !== 'Running') {
        expect(job.status, String(job.error)).toBe('Completed');
        break;
      }
      answeredWhileRunning += 1;
      if (job.restoredEvents > 0 && job.restoredEvents < job.eventCount) answeredMidway += 1;
    }
    expect(answeredWhileRunning).toBeGreaterThan(5);
    expect(answeredMidway).toBeGreaterThan(0);
    expect((await server.admin.get('/api/apps/big-copy/content/articles?top=1')).body.total).toBe((await server.admin.get('/api/apps/big/content/articles?top=1')).body.total);
  });

  it('keeps every acknowledged write of concurrent clients when killed mid-stream', async () => {
    const dataDir = tempDir();
    let child = await startChildServer(dataDir);
    children.push(child.process);
    expect((await child.admin.post('/api/apps', { name: 'writes' })).status).toBe(201);
    expect((await child.admin.post('/api/apps/writes/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String', required: true }] })).status).toBe(201);
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await child.admin.post('/api/apps/writes/content/notes', { data: { text: `writer ${w} note ${i}` } });
          if (res.status === 201) acknowledged.push(res.body.id as string);
        } catch {
          return; // the connection died with the process
        }
      }
    });
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 5));
    await child.kill();
    stop = true;
    await Promise.all(writers);

    child = await startChildServer(dataDir);
    children.push(child.process);
    const listed = await child.admin.get('/api/apps/writes/content/notes?top=200');
    const all = new Set<string>(listed.body.items.map((c: { id: string }) => c.id));
    for (let skip = 200; skip < listed.body.total; skip += 200) {
      for (const c of (await child.admin.get(`/api/apps/writes/content/notes?top=200&skip=${skip}`)).body.items) all.add(c.id);
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);
    expect(acknowledged.filter((id) => !all.has(id))).toEqual([]);
    await child.stop();
  });
});
