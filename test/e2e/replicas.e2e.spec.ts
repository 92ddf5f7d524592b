import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claims, NAME_INDEX, type NameIndex } from '../../src/infrastructure/name-index/name-index.port.js';
import { JobProcessor } from '../../src/jobs/job-processor.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { startReplica } from '../support/replica-server.js';
import { tempDir, type TestServer } from '../support/test-server.js';

/**
 * Two AppVault servers on the same stores, behind an imagined load balancer: only the first runs
 * the projections, and every request here goes to the second. Restores and rollbacks replay an
 * app through the projecting process's engine, so the second accepts them and hands them over.
 */
describe('replicas: jobs requested from the process that does not project', () => {
  const shared = tempDir('appvault-shared-');
  let projecting: TestServer;
  let other: TestServer;
  let backupId: string;
  let productId: string;

  beforeAll(async () => {
    projecting = await startReplica(shared);
    other = await startReplica(shared);
    expect(projecting.app.get(Projector).projects).toBe(true);
    expect(other.app.get(Projector).projects).toBe(false);
    const admin = other.admin;
    expect((await admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
    expect((await admin.post('/api/apps/shop/schemas', { name: 'products', fields: [{ name: 'title', type: 'String' }] })).status).toBe(201);
    const product = await admin.post('/api/apps/shop/content/products', { data: { title: 'As in the backup' } });
    productId = product.body.id as string;
    const backup = await admin.post('/api/apps/shop/backups', { label: 'for the replicas' });
    const done = await waitForJob(admin, `/api/apps/shop/backups/${String(backup.body.id)}`);
    expect(done.status, String(done.error)).toBe('Completed');
    backupId = String(done.id);
  }, 60_000);

  afterAll(async () => {
    await other?.close();
    await projecting?.close();
  });

  it('completes a restore of a stored backup requested from the other process, run by the projecting one', async () => {
    const started = await other.admin.post('/api/restore', { backupId, name: 'shop-copy' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await waitForJob(other.admin, `/api/restore/${String(started.body.id)}`);
    expect(job.status, String(job.error)).toBe('Completed');
    const log = (job.log as { message: string }[]).map((l) => l.message);
    expect(log.some((m) => m.includes('handed to the AppVault process that runs the projections'))).toBe(true);
    expect(log.some((m) => m.includes('which runs the projections'))).toBe(true);
    for (const server of [other, projecting]) {
      const items = (await server.admin.get('/api/apps/shop-copy/content/products')).body.items as { data: { title: string } }[];
      expect(items.map((i) => i.data.title)).toEqual(['As in the backup']);
    }
  });

  it('completes a restore of an archive uploaded to the other process, staged in the shared blob store and removed after', async () => {
    const archive = await other.admin.bytes(`/api/apps/shop/backups/${backupId}/archive`);
    expect(archive.status).toBe(200);
    const form = fileForm(archive.bytes, 'shop.zip', 'application/zip');
    form.append('name', 'shop-uploaded');
    const started = await other.admin.request('POST', '/api/restore', form);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await waitForJob(other.admin, `/api/restore/${String(started.body.id)}`);
    expect(job.status, String(job.error)).toBe('Completed');
    expect((job.log as { message: string }[]).map((l) => l.message)).toContain('Reading the uploaded archive in place from the archive store');
    expect((await projecting.admin.get('/api/apps/shop-uploaded/content/products')).body.total).toBe(1);
    const staged = join(shared, 'blobs', 'restore-uploads');
    expect(existsSync(staged) ? readdirSync(staged) : []).toEqual([]);
    // Neither process keeps the upload on its own disk.
    for (const server of [other, projecting]) {
      const tmp = join(server.dataDir, 'tmp');
      expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    }
  });

  it('completes a rollback requested from the other process, run by the projecting one', async () => {
    expect((await other.admin.put(`/api/apps/shop/content/products/${productId}`, { data: { title: 'Changed since' } })).status).toBe(200);
    const started = await other.admin.post('/api/apps/shop/rollback', { backupId });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).not.toHaveProperty('slotToken');
    const job = await waitForJob(other.admin, `/api/apps/shop/rollbacks/${String(started.body.id)}`);
    expect(job.status, String(job.error)).toBe('Completed');
    expect(job).not.toHaveProperty('slotToken');
    expect((job.log as { message: string }[]).some((l) => l.message.includes('which runs the projections'))).toBe(true);
    for (const server of [other, projecting]) {
      expect((await server.admin.get(`/api/apps/shop/content/products/${productId}`)).body.data).toEqual({ title: 'As in the backup' });
    }
    // Writes go on as usual once it has ended, on either process.
    expect((await other.admin.put(`/api/apps/shop/content/products/${productId}`, { data: { title: 'After the rollback' } })).status).toBe(200);
  });

  it('refuses writes to an app in every process while a rollback of it holds its slot', async () => {
    const app = (await other.admin.get('/api/apps/shop')).body as { id: string };
    const names = projecting.app.get<NameIndex>(NAME_INDEX);
    // What a rollback running in another process holds: its app's rollback slot, by its job id.
    const token = await names.reserve(claims.rollbackSlot(app.id), 60_000, 'rollback-elsewhere');
    try {
      for (const server of [other, projecting]) {
        const refused = await server.admin.put(`/api/apps/shop/content/products/${productId}`, { data: { title: 'Not now' } });
        expect(refused.status).toBe(409);
        expect(refused.body.message).toBe('The app is being rolled back (rollback rollback-elsewhere); writes to it are refused until the rollback has finished. Try again in a moment.');
      }
    } finally {
      await names.release(claims.rollbackSlot(app.id), token);
    }
    expect((await projecting.admin.put(`/api/apps/shop/content/products/${productId}`, { data: { title: 'Now again' } })).status).toBe(200);
  });
});

describe('replicas: a job nobody picks up', () => {
  it('fails a restore no projecting process takes within five lease periods, freeing its name and slot', async () => {
    const shared = tempDir('appvault-shared-');
    const projecting = await startReplica(shared, { NAME_RESERVATION_TTL_MS: '1000' });
    const other = await startReplica(shared, { NAME_RESERVATION_TTL_MS: '1000' });
    try {
      // The projecting process goes on projecting but takes no jobs (hung in its job loop, say).
      (projecting.app.get(JobProcessor) as unknown as { pickUp: () => Promise<void> }).pickUp = async () => undefined;
      const started = await other.admin.post('/api/restore', { url: 'https://example.com/backup.zip', name: 'never-restored' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(other.admin, `/api/restore/${String(started.body.id)}`);
      expect(job.status).toBe('Failed');
      expect(job.error).toBe('No AppVault process that runs the projections picked this restore up within 5 s; check that one runs (GET /health on each process) and start the restore again');
      const names = other.app.get<NameIndex>(NAME_INDEX);
      expect(await names.lookup(claims.appName('never-restored'))).toBeUndefined();
      expect(await names.lookup(claims.restoreSlot())).toBeUndefined();
    } finally {
      await other.close();
      await projecting.close();
    }
  });
});
