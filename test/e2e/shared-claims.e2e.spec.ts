import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claims } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { startServer, type TestServer } from '../support/test-server.js';

/**
 * Uniqueness and "one at a time" rules hold against another process on the same stores: the test
 * plays that process, holding claims in the server's claims file through its own connection, as a
 * replica would through the shared MongoDB. Each rule refuses with 409 while the other holds the
 * claim, and works once it lets go.
 */
describe('rules enforced in the shared claims, across processes', () => {
  let server: TestServer;
  let other: SqliteNameIndex;
  let appId: string;
  const OTHER = 'other-host:4242:cafebabe';
  const TTL = 60_000;

  beforeAll(async () => {
    server = await startServer();
    other = SqliteNameIndex.open(join(server.dataDir, 'claims.db'));
    appId = (await server.admin.post('/api/apps', { name: 'shared' })).body.id as string;
  });
  afterAll(async () => {
    await other.close();
    await server.close();
  });

  /** Holds the claim in the "other process" while `check` runs, then lets go. */
  const whileOtherHolds = async (claim: ReturnType<typeof claims.appName>, check: () => Promise<void>) => {
    const token = await other.reserve(claim, TTL, OTHER);
    try {
      await check();
    } finally {
      await other.release(claim, token);
    }
  };

  it('app names: a name another process is creating is refused, then free', async () => {
    await whileOtherHolds(claims.appName('contested'), async () => {
      const res = await server.admin.post('/api/apps', { name: 'contested' });
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/reserved by a create or restore in progress/);
    });
    expect((await server.admin.post('/api/apps', { name: 'contested' })).status).toBe(201);
    expect(await other.lookup(claims.appName('contested'))).toMatchObject({ state: 'committed' });
  });

  it('schema names: claimed per app, committed to the schema, freed when it is deleted', async () => {
    await whileOtherHolds(claims.schemaName(appId, 'posts'), async () => {
      const res = await server.admin.post('/api/apps/shared/schemas', { name: 'posts', fields: [{ name: 'title', type: 'String' }] });
      expect(res.status).toBe(409);
      expect(res.body.message).toBe('A schema named "posts" is being created in this app right now');
    });
    const created = await server.admin.post('/api/apps/shared/schemas', { name: 'posts', fields: [{ name: 'title', type: 'String' }] });
    expect(created.status).toBe(201);
    expect(await other.lookup(claims.schemaName(appId, 'posts'))).toMatchObject({ state: 'committed', owner: created.body.id });
    // Another app's schema of the same name is another claim.
    expect(await other.lookup(claims.schemaName('another-app', 'posts'))).toBeUndefined();
    expect((await server.admin.delete('/api/apps/shared/schemas/posts')).status).toBe(204);
    expect(await other.lookup(claims.schemaName(appId, 'posts'))).toBeUndefined();
    expect((await server.admin.post('/api/apps/shared/schemas', { name: 'posts', fields: [] })).status).toBe(201);
  });

  it('emails: normalised, so a look-alike spelling meets the same claim', async () => {
    await whileOtherHolds(claims.email('ada@example.org'), async () => {
      const res = await server.admin.post('/api/users', { email: 'Ada@Example.ORG' });
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/ada@example\.org is being created right now/);
    });
    expect((await server.admin.post('/api/users', { email: 'Ada@Example.ORG' })).status).toBe(201);
    expect((await server.admin.post('/api/users', { email: 'ada@example.org' })).status).toBe(409);
  });

  it('backups: one running per app, also when another process runs it', async () => {
    await whileOtherHolds(claims.backupSlot(appId), async () => {
      const res = await server.admin.post('/api/apps/shared/backups', {});
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/already running/);
    });
    const started = await server.admin.post('/api/apps/shared/backups', {});
    expect(started.status).toBe(202);
    // Held by the job while it runs; let go when it ends.
    for (;;) {
      const job = await server.admin.get(`/api/apps/shared/backups/${started.body.id}`);
      if (job.body.status === 'Completed' || job.body.status === 'Failed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect.poll(() => other.lookup(claims.backupSlot(appId))).toBeUndefined();
  });

  it('restores: one at a time in the installation, whichever process runs it', async () => {
    const backups = await server.admin.get('/api/apps/shared/backups');
    const backupId = backups.body.items[0].id as string;
    await whileOtherHolds(claims.restoreSlot(), async () => {
      const res = await server.admin.post('/api/restore', { backupId, name: 'shared-copy' });
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/Another restore is running/);
    });
    expect(await other.lookup(claims.appName('shared-copy'))).toBeUndefined();
    const started = await server.admin.post('/api/restore', { backupId, name: 'shared-copy' });
    expect(started.status).toBe(202);
    await expect.poll(async () => (await server.admin.get(`/api/restore/${started.body.id}`)).body.status, { timeout: 30_000 }).toBe('Completed');
    await expect.poll(() => other.lookup(claims.restoreSlot())).toBeUndefined();
  });

  it('asset uploads: a replacement another process is storing is refused, not written twice', async () => {
    const body = new FormData();
    body.append('file', new Blob(['first']), 'a.txt');
    const asset = await server.admin.post('/api/apps/shared/assets', body);
    expect(asset.status).toBe(201);
    const replacement = () => {
      const form = new FormData();
      form.append('file', new Blob(['second']), 'b.txt');
      return server.admin.put(`/api/apps/shared/assets/${asset.body.id}/content`, form);
    };
    await whileOtherHolds(claims.assetUpload(appId, asset.body.id as string), async () => {
      const res = await replacement();
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/Another upload to this asset is in progress/);
    });
    const replaced = await replacement();
    expect(replaced.status).toBe(200);
    expect(replaced.body.fileVersion).toBe(1);
  });
});
