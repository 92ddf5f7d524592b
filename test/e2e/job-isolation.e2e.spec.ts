import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveWriterThreads } from '../../src/archive/archive-writer.js';
import { BACKUP_STAGES, type BackupStage } from '../../src/backup/create/backup.runner.js';
import { JobFaults } from '../../src/jobs/job-faults.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { startChildServer } from '../support/child-server.js';
import { buildApp, fileForm, waitForJob } from '../support/fixtures.js';
import { createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';

const archives = (dataDir: string) => (existsSync(join(dataDir, 'blobs', 'backups')) ? readdirSync(join(dataDir, 'blobs', 'backups')) : []);

describe('a failing job fails alone', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
    const cast = await createCast(server, 'isolated');
    await buildApp('isolated', [cast.owner.client], { contents: 12, updates: 6, binaryBytes: 2000 });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(BACKUP_STAGES)('fails a backup with a clear error at stage %s, keeps no archive and keeps serving', async (stage) => {
    const faults = server.app.get(JobFaults).of<BackupStage>('backup');
    faults.failAt = stage;
    try {
      const backup = await server.admin.post('/api/apps/isolated/backups', {});
      const job = await waitForJob(server.admin, `/api/backups/${backup.body.id}`);
      expect(job.status).toBe('Failed');
      expect(job.error).toBe(`Injected failure at backup stage "${stage}"`);
      expect(archives(server.dataDir)).toEqual([]);
      expect((await server.admin.get('/api/apps/isolated')).status).toBe(200);
      expect((await server.admin.get('/api/apps/isolated/backups/' + String(backup.body.id) + '/archive')).status).toBe(409);
      await server.admin.delete(`/api/backups/${backup.body.id}`);
    } finally {
      faults.failAt = undefined;
    }
    const again = await server.admin.post('/api/apps/isolated/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${again.body.id}`)).status).toBe('Completed');
    await server.admin.delete(`/api/backups/${again.body.id}`);
  });

  it('fails a backup whose archive writer thread crashes mid-write with a clear error, keeps no archive and keeps serving', async () => {
    const faults = server.app.get(JobFaults).of<BackupStage>('backup');
    // Once the events are written: a message the thread does not know throws there, uncaught, and ends it.
    faults.onStep = async (step) => {
      if (step !== 'complete') return;
      const [thread] = [...archiveWriterThreads()];
      const exited = new Promise((resolve) => thread!.once('exit', resolve));
      thread!.postMessage({ op: 'no-such-step' });
      await exited;
    };
    try {
      const backup = await server.admin.post('/api/apps/isolated/backups', {});
      const job = await waitForJob(server.admin, `/api/backups/${backup.body.id}`);
      expect(job.status).toBe('Failed');
      expect(job.error).toBe('The archive writer thread failed: unknown message "no-such-step"; the archive was not written');
      expect(archives(server.dataDir)).toEqual([]);
      expect(archiveWriterThreads().size).toBe(0);
      expect((await server.client().get('/health')).status).toBe(200);
      expect((await server.admin.get('/api/apps/isolated')).status).toBe(200);
      await server.admin.delete(`/api/backups/${backup.body.id}`);
    } finally {
      faults.onStep = undefined;
    }
    const again = await server.admin.post('/api/apps/isolated/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${again.body.id}`)).status).toBe('Completed');
    await server.admin.delete(`/api/backups/${again.body.id}`);
  });

  it('answers 410 naming the asset and version when a file version has no bytes any more', async () => {
    const created = await server.admin.post('/api/apps/isolated/assets', fileForm(Buffer.from('gone soon'), 'note.txt', 'text/plain'));
    expect(created.status).toBe(201);
    const { rm } = await import('node:fs/promises');
    await rm(join(server.dataDir, 'blobs', 'assets', (await server.admin.get('/api/apps/isolated')).body.id, created.body.id), { recursive: true });
    const res = await server.admin.get(`/api/apps/isolated/assets/${created.body.id}/content`);
    expect(res.status).toBe(410);
    expect(res.body.message).toContain(`Asset ${created.body.id} file version 0`);
  });
});

describe('one process per DATA_DIR', () => {
  it('refuses a second server on the same folder with exit code 78, naming the folder and the process, and touches nothing', async () => {
    const dataDir = tempDir();
    const first = await startChildServer(dataDir);
    try {
      expect((await first.admin.post('/api/apps', { name: 'mine' })).status).toBe(201);
      const before = readdirSync(dataDir).sort();
      const { spawnSync } = await import('node:child_process');
      const second = spawnSync(process.execPath, ['dist/main.js'], {
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(second.status).toBe(78);
      expect(second.stderr).toContain(dataDir);
      expect(second.stderr).toContain(`pid ${first.process.pid}`);
      expect(readdirSync(dataDir).sort()).toEqual(before);
      expect((await first.admin.get('/api/apps/mine')).status).toBe(200);
    } finally {
      await first.stop();
    }
    // Once the first has stopped, the folder is free again.
    const next = await startChildServer(dataDir);
    expect((await next.admin.get('/api/apps/mine')).status).toBe(200);
    await next.stop();
  });

  it('takes over the lock a killed process left behind', async () => {
    const dataDir = tempDir();
    const first = await startChildServer(dataDir);
    await first.kill();
    const second = await startChildServer(dataDir);
    expect((await second.admin.get('/health')).body.status).toBe('ok');
    await second.stop();
  });

  it('starts at once after a SIGKILL although the lock file names another host and a live pid (a recreated container)', async () => {
    const dataDir = tempDir();
    const first = await startChildServer(dataDir);
    expect((await first.admin.post('/api/apps', { name: 'kept' })).status).toBe(201);
    await first.kill();
    // What a container recreated under a new hostname finds: the dead one's file, naming its host
    // and a pid that a live process (this test's) now has. Only the OS lock decides, and nobody holds it.
    writeFileSync(join(dataDir, 'appvault.lock'), `${JSON.stringify({ pid: process.pid, host: 'container-before-the-crash', started: new Date().toISOString() })}\n`);
    const second = await startChildServer(dataDir);
    try {
      expect((await second.admin.get('/api/apps/kept')).status).toBe(200);
      // The file now names the live holder, and a third process is refused while it runs.
      expect(JSON.parse(readFileSync(join(dataDir, 'appvault.lock'), 'utf8'))).toMatchObject({ pid: second.process.pid });
      const { spawnSync } = await import('node:child_process');
      const third = spawnSync(process.execPath, ['dist/main.js'], { env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' }, encoding: 'utf8', timeout: 20_000 });
      expect(third.status).toBe(78);
      expect(third.stderr).toContain(`DATA_DIR ${dataDir} is in use by another AppVault process (per appvault.lock: pid ${second.process.pid}`);
    } finally {
      await second.stop();
    }
  });
});

describe('bounded shutdown', () => {
  it('stops within its timeout though a client holds a half-sent upload, and logs each step', async () => {
    const dataDir = tempDir();
    const child = await startChildServer(dataDir, { SHUTDOWN_TIMEOUT_MS: '1500', LOG_LEVEL: 'log' });
    expect((await child.admin.post('/api/apps', { name: 'slow' })).status).toBe(201);
    const port = Number(new URL(child.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const boundary = 'stall';
    socket.write(
      `POST /api/apps/slow/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${child.admin.token}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 10000000\r\n\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    socket.write(Buffer.alloc(1000, 1));
    socket.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await child.stop();
    const took = Date.now() - started;
    expect(took).toBeLessThan(15_000);
    const output = child.output();
    expect(output).toMatch(/SIGTERM: not accepting connections; waiting up to 1500 ms for 1 request/);
    expect(output).toMatch(/Closing 1 request\(s\) still open after 1500 ms/);
    expect(output).toMatch(/Stopped/);
    expect(child.process.exitCode).toBe(0);
    socket.destroy();
    // Whatever the cut upload had written is gone once the server is up again, and no asset came of it.
    const again = await startChildServer(dataDir);
    expect(existsSync(join(dataDir, 'blobs', '.tmp')) ? readdirSync(join(dataDir, 'blobs', '.tmp')) : []).toEqual([]);
    expect((await again.admin.get('/api/apps/slow/assets')).body.total).toBe(0);
    await again.stop();
  });

  it('interrupts a running restore at once on SIGTERM (it keeps its name), and a cancel cleans it up', async () => {
    const dataDir = tempDir();
    let child = await startChildServer(dataDir);
    const created = await child.admin.post('/api/apps', { name: 'big' });
    await child.stop();
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    let version = created.body.version as number;
    for (let done = 0; done < 40_000; done += 5000) {
      const batch = Array.from({ length: 5000 }, (_, i) => ({ type: 'AppUpdated', data: { label: `L${done + i}`, description: 'd' }, metadata: { appId: created.body.id as string, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 } }));
      version = (await store.append(streams.app(created.body.id as string), batch, version)).streamVersion;
    }
    await store.close();
    child = await startChildServer(dataDir, { SHUTDOWN_TIMEOUT_MS: '300' });
    const backup = await child.admin.post('/api/apps/big/backups', {});
    expect((await waitForJob(child.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const restore = await child.admin.post('/api/restore', { backupId: backup.body.id, name: 'big-copy' });
    for (;;) {
      const job = (await child.admin.get(`/api/restore/${restore.body.id}`)).body;
      if (job.log.some((l: { message: string }) => l.message.startsWith('Restoring events'))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await child.stop();
    expect(child.output()).toMatch(/Interrupting 1 restore\(s\); they resume from their journal/);
    child = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    const job = (await child.admin.get(`/api/restore/${restore.body.id}`)).body;
    expect(job.status).toBe('Interrupted');
    expect(job.log.some((l: { message: string }) => /Interrupted: The server was stopped \(SIGTERM\)/.test(l.message))).toBe(true);
    expect((await child.admin.get('/api/apps/big-copy')).status).toBe(404);
    expect((await child.admin.post('/api/apps', { name: 'big-copy' })).status).toBe(409);
    expect((await child.admin.delete(`/api/restore/${restore.body.id}`)).body.status).toBe('Failed');
    expect((await child.admin.get('/api/apps/big-copy')).status).toBe(404);
    expect((await child.admin.post('/api/apps', { name: 'big-copy' })).status).toBe(201);
    await child.stop();
  });
});
