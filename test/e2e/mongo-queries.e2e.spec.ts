import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMongo, RecordedCall } from '../support/fake-mongo.js';
import { startServerOnFakeMongo } from '../support/fake-mongo-server.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { unservedQueries } from '../support/mongo-index-check.js';
import { createUser, type TestServer } from '../support/test-server.js';

/**
 * The application, driven over HTTP through every list, search, filter and removal it has, with
 * its read models in the MongoDB read store (on the recording fake). Every query the store then
 * issued is checked against the indexes it created: the filter's equality fields start an index
 * and the sort continues it, forwards or backwards. And every operation issued while a commit's
 * transaction was open carried that transaction's session.
 */
describe('MongoDB read store: the queries the application makes', () => {
  let server: TestServer & { mongo: FakeMongo };
  let calls: RecordedCall[];

  beforeAll(async () => {
    server = await startServerOnFakeMongo();
    const admin = server.admin;
    const owner = await createUser(server, 'owner@example.com');
    const user = owner.client;
    expect((await admin.get('/api/users')).status).toBe(200);

    for (const name of ['shop', 'other']) expect((await user.post('/api/apps', { name })).status).toBe(201);
    expect((await user.get('/api/apps')).body.total).toBe(2);
    expect((await admin.get('/api/apps?top=1&skip=1')).body.total).toBe(2);

    for (const name of ['products', 'notes']) expect((await user.post('/api/apps/shop/schemas', { name, fields: [{ name: 'title', type: 'String' }] })).status).toBe(201);
    expect((await user.get('/api/apps/shop/schemas')).body.items).toHaveLength(2);
    for (const title of ['Blue whale', 'Red panda', 'Grey seal']) expect((await user.post('/api/apps/shop/content/products', { data: { title } })).status).toBe(201);
    expect((await user.post('/api/apps/shop/content/notes', { data: { title: 'a note' } })).status).toBe(201);
    const listed = await user.get('/api/apps/shop/content/products?top=2');
    expect(listed.body.total).toBe(3);
    expect(listed.body.items.map((c: { data: { title: string } }) => c.data.title)).toEqual(['Grey seal', 'Red panda']);
    expect((await user.get('/api/apps/shop/content/products?q=whale')).body.total).toBe(1);
    expect((await user.post('/api/apps/shop/assets', fileForm(Buffer.from('bytes'), 'a.txt', 'text/plain'))).status).toBe(201);
    expect((await user.get('/api/apps/shop/assets')).body.total).toBe(1);

    const backup = await user.post('/api/apps/shop/backups', { label: 'first' });
    expect(backup.status).toBe(202);
    expect((await waitForJob(user, `/api/apps/shop/backups/${String(backup.body.id)}`)).status).toBe('Completed');
    expect((await user.get('/api/apps/shop/backups')).body.items).toHaveLength(1);
    expect((await admin.get('/api/backups')).body.items).toHaveLength(1);
    expect((await user.post(`/api/apps/shop/backups/${String(backup.body.id)}/links`, { expiresIn: '1h' })).status).toBe(201);
    expect((await user.get(`/api/apps/shop/backups/${String(backup.body.id)}/links`)).body.total).toBe(1);
    expect((await user.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', keepLast: 3 })).status).toBe(200);

    expect((await user.post('/api/apps/shop/content/products', { data: { title: 'after the backup' } })).status).toBe(201);
    const rollback = await user.post('/api/apps/shop/rollback', { backupId: backup.body.id });
    expect(rollback.status).toBe(202);
    expect((await waitForJob(user, `/api/apps/shop/rollbacks/${String(rollback.body.id)}`)).status).toBe('Completed');
    expect((await user.get('/api/apps/shop/rollbacks')).body.total).toBe(1);

    const restore = await admin.post('/api/restore', { backupId: backup.body.id, name: 'shop-copy' });
    expect(restore.status).toBe(202);
    expect((await waitForJob(admin, `/api/restore/${String(restore.body.id)}`)).status).toBe('Completed');
    expect((await admin.get('/api/restore')).body.items).toHaveLength(1);

    expect((await user.delete('/api/apps/shop/schemas/notes')).status).toBe(204);
    expect((await admin.delete('/api/apps/shop-copy')).status).toBe(204);
    expect((await admin.get('/api/apps')).body.total).toBe(2);
    calls = [...server.mongo.calls];
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('drove every list, search and removal of the read models', () => {
    const sorted = new Set(calls.filter((c) => c.op === 'find' && c.sort && Object.keys(c.sort).some((f) => f !== '_id')).map((c) => `${c.collection}:${Object.keys(c.sort!).join(',')}`));
    for (const list of [
      'c_users:email,_id',
      'c_apps:name,_id',
      'c_schemas:name,_id',
      'c_contents:created,_id',
      'c_assets:created,_id',
      'c_backup_jobs:created,_id',
      'c_backup_links:created,_id',
      'c_rollback_jobs:created,_id',
      'c_restore_jobs:created,_id',
    ]) {
      expect(sorted, list).toContain(list);
    }
    expect(calls.some((c) => c.collection === 'c_contents' && c.filter?.['_words'] !== undefined)).toBe(true);
    const removals = calls.filter((c) => c.op === 'deleteMany').map((c) => `${c.collection}:${Object.keys(c.filter ?? {}).join(',')}`);
    for (const removal of ['c_contents:appId,_id', 'c_contents:appId,schemaId,_id', 'c_assets:appId,_id', 'c_schemas:appId,_id']) expect(removals).toContain(removal);
  });

  it('serves every filter and sort from an index the store created', () => {
    expect(unservedQueries(calls, (name) => server.mongo.indexesOf(name))).toEqual([]);
  });

  it('sorts descending lists by an index read backwards, ties by key descending', () => {
    const contents = calls.find((c) => c.collection === 'c_contents' && c.op === 'find' && c.sort?.['created'] !== undefined);
    expect(contents?.sort).toEqual({ created: -1, _id: -1 });
    expect(server.mongo.indexesOf('c_contents').map((index) => index.key)).toContainEqual({ appId: 1, schemaId: 1, created: 1, _id: 1 });
  });

  it('issues every operation inside a transaction with its session, reads included', () => {
    const inside = calls.filter((c) => c.inTransaction);
    expect(server.mongo.transactionsCommitted).toBeGreaterThan(0);
    // Writes, the checkpoint, and the reads of a bounded removal (which finds nothing left after the purge ahead).
    for (const op of ['bulkWrite', 'updateOne', 'find']) expect(inside.map((c) => c.op)).toContain(op);
    expect(inside.filter((c) => c.op === 'find').every((c) => c.limit === 1000)).toBe(true);
    expect(server.mongo.violations()).toEqual([]);
  });

  it('removes documents in batches outside transactions, and inside one at most a batch', () => {
    const removals = calls.filter((c) => c.op === 'deleteMany');
    expect(removals.some((c) => !c.inTransaction)).toBe(true);
    for (const removal of removals) expect(removal.affected).toBeLessThanOrEqual(1000);
  });
});
