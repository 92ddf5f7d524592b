import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstallationService } from '../../src/backup/shared/installation.service.js';
import { READ_STORE, type ReadStore } from '../../src/infrastructure/read-store/read-store.port.js';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import { copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import { copyManifest, put, sha } from '../support/copy-manifests.js';
import { StaleUploadSweeper } from '../../src/repositories/sweep/stale-upload-sweeper.service.js';
import { waitForJob } from '../support/fixtures.js';
import { createUser, startServer, tempDir, type TestServer } from '../support/test-server.js';

describe('backup repositories over HTTP: folders', () => {
  let server: TestServer;
  let nas: string;
  let ownInstallation: string;

  beforeAll(async () => {
    server = await startServer();
    nas = tempDir('appvault-nas-');
    ownInstallation = await server.app.get(InstallationService).id();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('always has `local`, the installation’s own store, which cannot be changed or removed', async () => {
    const list = await server.admin.get('/api/repositories');
    expect(list.status).toBe(200);
    expect(list.body.items[0]).toMatchObject({ id: 'local', name: 'local', type: 'local', credentials: null, objectLock: null, appendOnly: false });
    expect(list.body.items[0].location).toContain(join(server.dataDir, 'blobs'));
    expect((await server.admin.get('/api/repositories/local')).body.name).toBe('local');
    const put = await server.admin.put('/api/repositories/local', { path: nas });
    expect(put.status).toBe(409);
    expect(put.body.message).toContain('cannot be changed');
    expect((await server.admin.delete('/api/repositories/local')).status).toBe(409);
    expect((await server.admin.post('/api/repositories', { name: 'local', type: 'filesystem', path: nas })).status).toBe(409);
    const check = await server.admin.post('/api/repositories/local/check');
    expect(check.status).toBe(200);
    expect(check.body).toEqual({ ok: true, steps: [expect.objectContaining({ step: 'write', ok: true }), expect.objectContaining({ step: 'read', ok: true }), expect.objectContaining({ step: 'delete', ok: true })] });
  });

  it('refuses folders that cannot hold a copy worth having, saying why', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ name: 'nas', type: 'filesystem', path: 'relative/dir' }, 400, 'path: must be absolute'],
      [{ name: 'nas', type: 'filesystem' }, 400, 'path: is required'],
      [{ name: 'nas', type: 'filesystem', path: join(nas, 'not-mounted') }, 400, 'does not exist; AppVault never creates'],
      [{ name: 'nas', type: 'filesystem', path: server.dataDir }, 400, 'is the data folder'],
      [{ name: 'nas', type: 'filesystem', path: join(server.dataDir, 'blobs') }, 400, 'a copy there is lost with the installation it should protect'],
      [{ name: 'nas', type: 'filesystem', path: nas, objectLock: { mode: 'COMPLIANCE', days: 7 } }, 400, 'objectLock: a folder cannot lock a copy'],
      [{ name: 'nas', type: 'filesystem', path: nas, s3: { bucket: 'b' } }, 400, 's3: only for repositories of type s3'],
      [{ name: 'Nas!', type: 'filesystem', path: nas }, 400, 'name: must be a repository name'],
      [{ name: 'nas', type: 'tape', path: nas }, 400, 'type: must be one of filesystem, s3'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket' }, appendOnly: true }, 400, 'appendOnly: only for filesystem repositories'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'Bad_Bucket' } }, 400, 's3.bucket: bucket must be an S3 bucket name'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket', endpoint: 'ftp://x' } }, 400, 's3.endpoint: endpoint must be an http:// or https:// URL'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket', accessKeyId: 'AKIA' } }, 400, 'accessKeyId and secretAccessKey go together'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket', accessKeyIdEnv: 'A', secretsFile: '/x' } }, 400, 'give one source of credentials'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket', accessKeyIdEnv: 'NO_SUCH_VAR_1', secretAccessKeyEnv: 'NO_SUCH_VAR_2' } }, 400, 'NO_SUCH_VAR_1 (the S3 access key id) is not set'],
      [{ name: 'nas', type: 's3', s3: { bucket: 'some-bucket', secretsFile: join(nas, 'missing.json') } }, 400, 'Cannot read the S3 secrets file'],
    ];
    for (const [body, status, message] of cases) {
      const res = await server.admin.post('/api/repositories', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.message, JSON.stringify(body)).toContain(message);
    }
    // A symbolic link into the data folder is the data folder.
    const link = join(tempDir(), 'link-to-data');
    symlinkSync(server.dataDir, link);
    const linked = await server.admin.post('/api/repositories', { name: 'nas', type: 'filesystem', path: link });
    expect(linked.status).toBe(400);
    expect(linked.body.message).toContain('data folder');
    expect((await server.admin.get('/api/repositories')).body.items).toHaveLength(1);
  });

  it('adds, shows (by name or id), changes and checks a folder repository; admins only', async () => {
    const created = await server.admin.post('/api/repositories', { name: 'nas', type: 'filesystem', path: nas });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'nas', type: 'filesystem', path: nas, location: `folder ${nas}`, s3: null, credentials: null, objectLock: null, appendOnly: false });
    expect((await server.admin.post('/api/repositories', { name: 'nas', type: 'filesystem', path: nas })).status).toBe(409);
    expect((await server.admin.get(`/api/repositories/${created.body.id}`)).body.name).toBe('nas');
    expect((await server.admin.get('/api/repositories/nas')).body.id).toBe(created.body.id);
    expect((await server.admin.get('/api/repositories/nope')).status).toBe(404);

    const renamed = await server.admin.put('/api/repositories/nas', { name: 'other', path: nas });
    expect(renamed.status).toBe(400);
    expect(renamed.body.message).toContain('cannot be renamed');
    expect((await server.admin.put('/api/repositories/nas', { type: 's3', s3: { bucket: 'abc' } })).body.message).toContain('stays one');
    // A PUT changes what it names; every field left out keeps its stored value.
    const changed = await server.admin.put(`/api/repositories/${created.body.id}`, { appendOnly: true });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ name: 'nas', type: 'filesystem', path: nas, appendOnly: true });
    const elsewhere = tempDir();
    const moved = await server.admin.put('/api/repositories/nas', { path: elsewhere });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ path: elsewhere, appendOnly: true });
    expect((await server.admin.put('/api/repositories/nas', {})).body).toMatchObject({ path: elsewhere, appendOnly: true });
    // What is named is still checked.
    expect((await server.admin.put('/api/repositories/nas', { path: 'relative/folder' })).body.message).toContain('path: must be absolute');
    expect((await server.admin.put('/api/repositories/nas', { objectLock: { mode: 'GOVERNANCE', days: 1 } })).body.message).toContain('a folder cannot lock a copy');
    expect((await server.admin.put('/api/repositories/nas', { path: nas })).body).toMatchObject({ path: nas, appendOnly: true });

    const check = await server.admin.post('/api/repositories/nas/check');
    expect(check.status).toBe(200);
    expect(check.body.ok).toBe(true);
    expect(check.body.steps.map((s: { step: string }) => s.step)).toEqual(['folder', 'write', 'read', 'delete']);
    expect(check.body.steps.at(-1).message).toContain('append-only');

    const { client } = await createUser(server, 'dev@example.com');
    for (const [method, path] of [
      ['GET', '/api/repositories'],
      ['GET', '/api/repositories/nas'],
      ['POST', '/api/repositories/nas/check'],
      ['GET', '/api/repositories/nas/backups'],
      ['DELETE', '/api/repositories/nas'],
    ] as const) {
      expect((await client.request(method, path)).status, `${method} ${path}`).toBe(403);
    }
    expect((await server.client().get('/api/repositories')).status).toBe(401);
  });

  it('check says what is wrong when the folder went away', async () => {
    const gone = tempDir('appvault-gone-');
    expect((await server.admin.post('/api/repositories', { name: 'gone', type: 'filesystem', path: gone })).status).toBe(201);
    // The share is unmounted after it was added.
    rmSync(gone, { recursive: true });
    const check = await server.admin.post('/api/repositories/gone/check');
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ ok: false, steps: [{ step: 'folder', ok: false }] });
    expect(check.body.steps[0].message).toContain('does not exist: if it is a mount point');
    expect(existsSync(gone)).toBe(false);
    expect((await server.admin.delete('/api/repositories/gone')).status).toBe(204);
    expect((await server.admin.get('/api/repositories/gone')).status).toBe(404);
  });

  it('lists what a folder holds, another installation’s copies too, and turns each hostile manifest into an entry with its error', async () => {
    const shared = tempDir('appvault-shared-');
    expect((await server.admin.post('/api/repositories', { name: 'shared', type: 'filesystem', path: shared })).status).toBe(201);
    const store = new FilesystemRepositoryStore(shared);
    const other = randomUUID();
    const foreignId = randomUUID();
    const ownId = randomUUID();
    const foreignKey = copyArchiveKey('shop', foreignId);
    await put(store, foreignKey, 'zip bytes');
    await put(store, copyManifestKey(foreignKey), JSON.stringify(copyManifest(other, 'shop', foreignId)));
    const ownKey = copyArchiveKey('blog', ownId);
    await put(store, copyManifestKey(ownKey), JSON.stringify(copyManifest(ownInstallation, 'blog', ownId, { completed: '2026-03-01T00:00:00.000Z' })));

    const hostile: [string, string | Buffer, string][] = [
      ['not-json', '{"format": "appvault-backup-copy", ', 'cannot be read: it is not valid JSON'],
      ['deep', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'nests deeper than 64 levels'],
      ['not-ours', JSON.stringify({ format: 'something-else' }), 'Not an AppVault copy manifest'],
      ['newer', JSON.stringify({ ...copyManifest(other, 'app', 'newer'), version: 99 }), 'Written by a newer AppVault (copy format version 99'],
      ['escape', JSON.stringify(copyManifest(other, 'app', 'escape', { label: 'evil\u001b]0;owned\u0007label' })), 'malformed at backup.label: contains a control character'],
      ['count', JSON.stringify(copyManifest(other, 'app', 'count', { eventCount: -1 })), 'malformed at backup.eventCount'],
      ['elsewhere', JSON.stringify(copyManifest(other, 'victim', 'secret-backup')), 'does not belong where it lies'],
      ['huge', Buffer.alloc(16 * 1024 * 1024 + 1, 0x20), 'more than the 16777216 a listing reads'],
    ];
    for (const [id, bytes] of hostile) await put(store, `appvault/app/${id}.copy.json`, bytes);
    // Not manifests: ignored.
    await put(store, 'appvault/app/readme.txt', 'hello');
    await put(store, 'elsewhere/x.copy.json', '{}');

    const res = await server.admin.get('/api/repositories/shared/backups');
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(false);
    const items = res.body.items as { key: string; installation: string | null; own: boolean; backup: { id: string } | null; error: string | null }[];
    expect(items).toHaveLength(2 + hostile.length);
    // Newest good ones first, then the unreadable ones.
    expect(items[0]).toMatchObject({ key: ownKey, installation: ownInstallation, own: true, backup: { id: ownId, appName: 'blog' }, error: null });
    expect(items[1]).toMatchObject({ key: foreignKey, installation: other, own: false, backup: { id: foreignId, appName: 'shop', eventCount: 12 }, sizeBytes: 4321, sha256: sha, error: null });
    for (const [id, , message] of hostile) {
      const item = items.find((i) => i.key === `appvault/app/${id}.zip`);
      expect(item, id).toMatchObject({ backup: null, sizeBytes: null, sha256: null });
      expect(item!.error, id).toContain(message);
    }
    // Remote text never comes back raw.
    expect(JSON.stringify(res.body)).not.toContain('\u001b');
    expect(JSON.stringify(res.body)).not.toContain('\\u001b]0;owned');
  });

  it('lists the installation’s own Completed backups as `local`', async () => {
    expect((await server.admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
    const started = await server.admin.post('/api/apps/shop/backups', { label: 'first' });
    expect(started.status).toBe(202);
    const done = await waitForJob(server.admin, `/api/apps/shop/backups/${started.body.id}`);
    expect(done.status).toBe('Completed');
    const res = await server.admin.get('/api/repositories/local/backups');
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      {
        key: `backups/${started.body.id}.zip`,
        installation: ownInstallation,
        own: true,
        backup: expect.objectContaining({ id: started.body.id, appName: 'shop', label: 'first', partial: false, eventCount: done.eventCount }),
        sizeBytes: done.sizeBytes,
        sha256: done.sha256,
        encrypted: false,
        error: null,
      },
    ]);
  });

  it('refuses to remove a repository a backup policy names, saying which, and removes it once none does', async () => {
    const folder = tempDir('appvault-used-');
    expect((await server.admin.post('/api/repositories', { name: 'used', type: 'filesystem', path: folder })).status).toBe(201);
    expect((await server.admin.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', keepDaily: 7 })).status).toBe(200);
    // The policy names the repository as issue 20's copies store it (`repositories` on the policy).
    const policies = server.app.get<ReadStore>(READ_STORE).collection<{ id: string; appName: string; repositories?: string[] }>('backup_policies');
    const [policy] = (await policies.find({ appName: 'shop' })).items;
    await policies.put({ ...policy!, repositories: ['local', 'used'] });
    const refused = await server.admin.delete('/api/repositories/used');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('the backup policy of app shop names it');
    expect((await server.admin.get('/api/repositories/used')).status).toBe(200);
    await policies.put({ ...policy!, repositories: ['local'] });
    expect((await server.admin.delete('/api/repositories/used')).status).toBe(204);
    expect(existsSync(folder)).toBe(true);
  });

  it('sweeps temp files a killed upload left, older than the configured age, and only those', async () => {
    const folder = tempDir('appvault-sweep-');
    expect((await server.admin.post('/api/repositories', { name: 'sweep', type: 'filesystem', path: folder })).status).toBe(201);
    mkdirSync(join(folder, 'appvault', 'shop'), { recursive: true });
    const stale = join(folder, 'appvault', 'shop', `.appvault-${randomUUID()}.part`);
    const fresh = join(folder, 'appvault', 'shop', `.appvault-${randomUUID()}.part`);
    writeFileSync(stale, 'half an archive');
    writeFileSync(fresh, 'an upload going on');
    const dayAndAHalfAgo = new Date(Date.now() - 36 * 3600 * 1000);
    utimesSync(stale, dayAndAHalfAgo, dayAndAHalfAgo);
    const outcomes = await server.app.get(StaleUploadSweeper).sweepAll();
    expect(outcomes).toContainEqual({ repository: 'sweep', removed: 1 });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });
});
