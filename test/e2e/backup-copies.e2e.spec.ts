import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupScheduler } from '../../src/backup/schedule/backup-scheduler.service.js';
import { BackupPoliciesService } from '../../src/backup/schedule/backup-policies.service.js';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { jsonOf, runCli } from '../support/cli-runner.js';
import { until, waitForJob } from '../support/fixtures.js';
import { addFolderRepositories, addRepository, backUp as backUpTo, type Copy, copyIn, sha256 } from '../support/repositories.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { inCi, requiredS3TestEnv, type S3TestEnv, S3TestBuckets, s3TestEnv } from '../support/s3-test-buckets.js';
import { ADMIN_TOKEN, type Cast, createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';

/**
 * Backups that go to repositories, over HTTP: copies in a folder (everywhere) and in S3 (against a
 * real S3 server when S3_TEST_ENDPOINT is set; required with CI=true), verified, locked, kept in
 * append-only folders, each failing on its own.
 */
/** Copies that fail are tried twice, 20 ms apart: the behaviour, not the wait, is under test. */
const RETRIES = { COPY_ATTEMPTS: '2', COPY_RETRY_DELAY_MS: '20', COPY_RETRY_MAX_DELAY_MS: '40' };

/** A backup of shop by its owner, as the admin reads it once it has ended. */
const backUp = (server: TestServer, cast: Cast, body: Record<string, unknown>) => backUpTo(cast.owner.client, server.admin, 'shop', body);

describe('backup copies in folders', () => {
  let server: TestServer;
  let cast: Cast;
  let nas: string;
  let vault: string;
  let gone: string;

  beforeAll(async () => {
    server = await startServer(RETRIES);
    cast = await createCast(server, 'shop');
    await cast.owner.client.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    for (let i = 0; i < 5; i++) await cast.owner.client.post('/api/apps/shop/content/notes', { data: { text: `note ${i}` } });
    // `unplugged`'s folder goes away after it was configured (an unmounted NAS).
    ({ nas, vault, gone } = await addFolderRepositories(server));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses unknown, repeated or too many repositories, naming them', async () => {
    const post = (repositories: unknown) => cast.owner.client.post('/api/apps/shop/backups', { repositories });
    const unknown = await post(['nas', 'tape', 'cloud']);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('repositories: there is no repository named "tape", "cloud"; GET /api/repositories lists them (admins)');
    expect((await post(['nas', 'nas'])).body.message).toMatch(/^repositories: names a repository twice$/);
    expect((await post(['local', 'nas', 'vault', 'unplugged', 'more'])).body.message).toMatch(/^repositories: may name at most 4 repositories$/);
    expect((await post([])).body.message).toMatch(/^repositories: must name at least one repository/);
    expect((await post(['../x'])).body.message).toMatch(/^repositories\.0: must be repository names/);
    expect((await cast.owner.client.get('/api/apps/shop/backups')).body.items).toEqual([]);
  });

  it('writes the archive to the folder with its manifest beside it, checked, and keeps it locally too', async () => {
    const backup = await backUp(server, cast, { label: 'two places', repositories: ['local', 'nas'] });
    expect(backup.status).toBe('Completed');
    expect(backup.repositories).toEqual(['local', 'nas']);
    expect(backup.warnings).toEqual([]);
    expect(backup.copies.map((c) => c.repository)).toEqual(['local', 'nas']);
    const copy = copyIn(backup, 'nas');
    expect(copy).toMatchObject({ key: `appvault/shop/${backup.id}.zip`, sizeBytes: backup.sizeBytes, sha256: backup.sha256, lockedUntil: null, error: null });
    expect(copy.written).not.toBeNull();
    expect(copy.verified).toBe(copy.written);
    const stored = readFileSync(join(nas, 'appvault', 'shop', `${backup.id}.zip`));
    expect(sha256(stored)).toBe(backup.sha256);
    const download = await server.admin.bytes(`/api/backups/${backup.id}/archive`);
    expect(download.bytes.equals(stored)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(nas, 'appvault', 'shop', `${backup.id}.copy.json`), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'appvault-backup-copy',
      version: 1,
      backup: { id: backup.id, appName: 'shop', label: 'two places', partial: false, eventCount: backup.eventCount },
      archive: { key: copy.key, sizeBytes: backup.sizeBytes, sha256: backup.sha256 },
      manifest: { format: 'appvault-backup', app: { name: 'shop' } },
    });
    expect(manifest.manifest.entries.length).toBeGreaterThan(0);
    // The repository's own listing (the repositories API) shows it as this installation's.
    const listed = await server.admin.get('/api/repositories/nas/backups');
    expect(listed.body.items.map((item: { key: string }) => item.key)).toContain(copy.key);
    // A repository a backup has copies in cannot be removed.
    const remove = await server.admin.delete('/api/repositories/nas');
    expect(remove.status).toBe(409);
    expect(remove.body.message).toContain(`backup ${backup.id} of app shop`);
  });

  it('a copy that cannot be written fails alone: the others are made, the warning names it, the archive stays local', async () => {
    const backup = await backUp(server, cast, { repositories: ['unplugged', 'nas'] });
    expect(backup.status).toBe('Completed');
    expect(backup.copies.map((c) => [c.repository, c.written !== null])).toEqual([
      ['unplugged', false],
      ['nas', true],
      ['local', true],
    ]);
    const failed = copyIn(backup, 'unplugged');
    expect(failed.error).toContain(gone);
    expect(failed).toMatchObject({ sha256: null, written: null, verified: null });
    expect(backup.warnings).toEqual([
      expect.stringMatching(/^The copy to repository "unplugged" failed: .+/),
      `The archive is kept in this installation's own store (repository "local") because a copy it was meant for failed`,
    ]);
    expect(sha256(readFileSync(join(nas, 'appvault', 'shop', `${backup.id}.zip`)))).toBe(backup.sha256);
    expect((await server.admin.bytes(`/api/backups/${backup.id}/archive`)).status).toBe(200);
    // The failed copy's repository is still unplugged: the delete goes through all the same.
    expect((await server.admin.delete(`/api/backups/${backup.id}`)).status).toBe(204);
    expect(existsSync(join(nas, 'appvault', 'shop', `${backup.id}.zip`))).toBe(false);
  });

  it('without `local` among the targets, the local archive goes once every copy is made; the backup is downloaded and restored from its copy', async () => {
    const backup = await backUp(server, cast, { repositories: ['nas'] });
    expect(backup.status).toBe('Completed');
    expect(backup.copies.map((c) => c.repository)).toEqual(['nas']);
    expect(existsSync(join(server.dataDir, 'blobs', 'backups', `${backup.id}.zip`))).toBe(false);
    const download = await server.admin.bytes(`/api/backups/${backup.id}/archive`);
    expect(download.status).toBe(200);
    expect(sha256(download.bytes)).toBe(backup.sha256);
    const restore = await server.admin.post('/api/restore', { backupId: backup.id, name: 'shop-from-nas' });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    const restored = await waitForJob(server.admin, `/api/restore/${restore.body.id}`);
    expect(restored.status, JSON.stringify(restored)).toBe('Completed');
    expect((restored.log as { message: string }[]).map((line) => line.message).join('\n')).toContain(`Copying backup ${backup.id} from its copy in repository "nas"`);
    expect((await server.admin.get('/api/apps/shop-from-nas')).status).toBe(200);
    expect((await server.admin.delete(`/api/backups/${backup.id}`)).status).toBe(204);
    expect(existsSync(join(nas, 'appvault', 'shop', `${backup.id}.zip`))).toBe(false);
    expect(existsSync(join(nas, 'appvault', 'shop', `${backup.id}.copy.json`))).toBe(false);
  });

  it('verify finds a changed folder copy: by its size at once, by its bytes with readData', async () => {
    const backup = await backUp(server, cast, { repositories: ['local', 'nas'] });
    const file = join(nas, 'appvault', 'shop', `${backup.id}.zip`);
    const before = copyIn(backup, 'nas').verified!;
    const ok = await cast.developer.client.post(`/api/apps/shop/backups/${backup.id}/verify`, { readData: true });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.copies.map((c: Copy) => c.error)).toEqual([null, null]);
    expect(copyIn(ok.body, 'nas').verified! > before).toBe(true);

    // Same size, other bytes: a folder records no hash, so only reading the data finds it.
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const read = await server.admin.post(`/api/backups/${backup.id}/verify`, { readData: true });
    expect(read.status).toBe(200);
    const found = copyIn(read.body, 'nas');
    expect(found.error).toMatch(/^The copy reads back with SHA-256 [0-9a-f]{64}, the backup recorded [0-9a-f]{64}: its bytes were changed or damaged$/);
    expect(found.verified).toBe(copyIn(ok.body, 'nas').verified);
    expect(copyIn(read.body, 'local').error).toBeNull();
    expect((await server.admin.get(`/api/backups/${backup.id}`)).body.copies).toEqual(read.body.copies);

    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    const quick = await server.admin.post(`/api/backups/${backup.id}/verify`, {});
    expect(copyIn(quick.body, 'nas').error).toBe(`The copy has ${bytes.length - 10} bytes, the backup recorded ${backup.sizeBytes}: it was changed or damaged`);
    rmSync(file);
    const missing = await server.admin.post(`/api/backups/${backup.id}/verify`, {});
    expect(copyIn(missing.body, 'nas').error).toBe(`The copy is gone: appvault/shop/${backup.id}.zip is not in the repository any more`);
    expect((await cast.editor.client.post(`/api/apps/shop/backups/${backup.id}/verify`, {})).status).toBe(403);
    expect((await cast.owner.client.post(`/api/backups/${backup.id}/verify`, {})).status).toBe(403);
  });

  it('an append-only folder keeps its copy when the backup is deleted, and the answer says so', async () => {
    const backup = await backUp(server, cast, { repositories: ['local', 'vault'] });
    const file = join(vault, 'appvault', 'shop', `${backup.id}.zip`);
    expect(sha256(readFileSync(file))).toBe(backup.sha256);
    const deleted = await cast.owner.client.delete(`/api/apps/shop/backups/${backup.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({
      id: backup.id,
      kept: [{ repository: 'vault', key: `appvault/shop/${backup.id}.zip`, reason: `repository "vault" is append-only: AppVault never deletes there; the operator's own tool prunes it` }],
    });
    expect((await server.admin.get(`/api/backups/${backup.id}`)).status).toBe(404);
    expect(sha256(readFileSync(file))).toBe(backup.sha256);
    expect(existsSync(join(vault, 'appvault', 'shop', `${backup.id}.copy.json`))).toBe(true);
  });

  it('the CLI backs up to repositories, shows the copies, verifies them (exit 1 on a changed one) and deletes', async () => {
    const cli = (args: string[]) => runCli(args, { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: ADMIN_TOKEN } });
    const created = await cli(['backup', 'create', 'shop', '--repository', 'local', '--repository', 'nas', '--wait', '--no-progress']);
    expect(created.code, created.stderr).toBe(0);
    const id = /Backup ([0-9a-f-]{36}) of app shop/.exec(created.stdout)![1]!;
    expect(created.stdout).toContain('  to:       local, nas');
    expect(created.stdout).toMatch(new RegExp(`  copy in nas: appvault/shop/${id}\\.zip \\([^)]*; written [^,]+, verified [^)]+\\)`));
    const list = await cli(['backup', 'list', 'shop']);
    expect(list.stdout).toMatch(new RegExp(`${id}.*local\\+nas`));
    const verified = await cli(['backup', 'verify', id, '--read-data', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(jsonOf<{ copies: Copy[] }>(verified).copies.map((c) => c.error)).toEqual([null, null]);
    const file = join(nas, 'appvault', 'shop', `${id}.zip`);
    const bytes = readFileSync(file);
    bytes[10] ^= 0xff;
    writeFileSync(file, bytes);
    const changed = await cli(['backup', 'verify', id, '--read-data']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain('1 of 2 copies have a problem');
    expect(changed.stdout).toContain('    problem: The copy reads back with SHA-256');
    expect(changed.stderr).toContain(`Backup ${id}: the copy in nas: The copy reads back with SHA-256`);
    const deleted = await cli(['backup', 'delete', id, '--app', 'shop']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(existsSync(file)).toBe(false);
    const vaulted = await cli(['backup', 'create', 'shop', '--repository', 'vault', '--wait', '--json', '--no-progress']);
    const vaultId = jsonOf<{ id: string }>(vaulted).id;
    const kept = await cli(['backup', 'delete', vaultId]);
    expect(kept.stdout).toBe(`Deleted backup ${vaultId}\nKept its copy in vault (appvault/shop/${vaultId}.zip): repository "vault" is append-only: AppVault never deletes there; the operator's own tool prunes it\n`);
    const policy = await cli(['policy', 'set', 'shop', '--schedule', '0 0 1 1 *', '--repository', 'local', '--repository', 'nas']);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toContain('To:        local, nas');
    const refused = await cli(['policy', 'set', 'shop', '--schedule', '0 0 1 1 *', '--repository', 'nas', '--lock-days', '7']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("objectLock: none of the policy's repositories (nas) can lock copies");
    expect((await cast.owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
  });

  it('policies name repositories (checked) and their backups go there', async () => {
    const put = (body: Record<string, unknown>) => cast.owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 0 1 1 *', ...body });
    const unknown = await put({ repositories: ['tape'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/^repositories: there is no repository named "tape"/);
    const noLock = await put({ repositories: ['local', 'nas'], objectLock: { mode: 'GOVERNANCE', days: 1 } });
    expect(noLock.status).toBe(400);
    expect(noLock.body.message).toBe(`objectLock: none of the policy's repositories (local, nas) can lock copies; name an S3 repository whose bucket has Object Lock enabled`);
    const policy = await put({ repositories: ['local', 'nas'], keepLast: 1 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    expect(policy.body).toMatchObject({ repositories: ['local', 'nas'], objectLock: null, lastWarning: null });
    await server.app.get(BackupPoliciesService).policies.put({ ...(await server.app.get(BackupPoliciesService).policies.get(policy.body.appId))!, nextRun: '2020-01-01T00:00:00.000Z' });
    const [job] = await server.app.get(BackupScheduler).runDue(new Date());
    await server.app.get(BackupScheduler).idle();
    const backup = (await server.admin.get(`/api/backups/${job!.id}`)).body;
    expect(backup.repositories).toEqual(['local', 'nas']);
    expect(copyIn(backup, 'nas').written).not.toBeNull();
    expect((await cast.owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
  });
});

describe('a server killed while copying', () => {
  let child: ChildServer | undefined;
  let silent: Server | undefined;
  afterAll(async () => {
    // The silent server first: what still waits on it (a sweep, a removal) then fails at once and the child stops.
    silent?.closeAllConnections();
    silent?.close();
    await child?.stop();
  });

  it('completes the backup at the next start with the copies recorded, the one under way failed, and the archive kept locally', async () => {
    const dataDir = tempDir();
    const nas = tempDir('appvault-nas-');
    // An "S3 server" that takes every request and never answers: the copy to it is under way when the process dies.
    silent = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    child = await startChildServer(dataDir);
    expect((await child.admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
    expect((await child.admin.post('/api/repositories', { name: 'nas', type: 'filesystem', path: nas })).status).toBe(201);
    const hanging = await child.admin.post('/api/repositories', { name: 'hanging', type: 's3', s3: { endpoint, bucket: 'never-answers', accessKeyId: 'key', secretAccessKey: 'secret' } });
    expect(hanging.status, JSON.stringify(hanging.body)).toBe(201);
    const started = await child.admin.post('/api/apps/shop/backups', { repositories: ['hanging', 'nas'] });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const running = await until(async () => {
      const job = (await child!.admin.get(`/api/backups/${id}`)).body;
      return job.phase === 'copying' && job.copies.some((c: Copy) => c.repository === 'nas') ? job : undefined;
    }, 'the copy to nas to be recorded while the other hangs');
    expect(running.status).toBe('Running');
    expect(running.copies.map((c: Copy) => c.repository)).toEqual(['nas']);
    await child.kill();

    child = await startChildServer(dataDir);
    const settled = (await child.admin.get(`/api/backups/${id}`)).body;
    expect(settled.status).toBe('Completed');
    expect(settled.copies.map((c: Copy) => [c.repository, c.written !== null])).toEqual([
      ['hanging', false],
      ['nas', true],
      ['local', true],
    ]);
    expect(copyIn(settled, 'hanging').error).toBe('The server stopped while this copy was being written');
    expect(settled.warnings).toContain(`The archive is kept in this installation's own store (repository "local") because a copy it was meant for failed`);
    expect(sha256(readFileSync(join(nas, 'appvault', 'shop', `${id}.zip`)))).toBe(settled.sha256);
    const download = await child.admin.bytes(`/api/backups/${id}/archive`);
    expect(sha256(download.bytes)).toBe(settled.sha256);
  });
});

if (!s3TestEnv && !inCi) {
  describe.skip('backup copies in S3 (needs S3_TEST_ENDPOINT)', () => {
    it('runs against an S3-compatible server', () => undefined);
  });
} else {
  describe('backup copies in S3', () => {
    let env: S3TestEnv;
    let buckets: S3TestBuckets;
    let proxy: S3FaultProxy;
    let server: TestServer;
    let cast: Cast;
    let locking: string;
    let plain: string;

    beforeAll(async () => {
      env = requiredS3TestEnv();
      buckets = new S3TestBuckets(env);
      locking = await buckets.create('copies-lock', true);
      plain = await buckets.create('copies');
      proxy = await S3FaultProxy.start(env.endpoint);
      server = await startServer(RETRIES);
      cast = await createCast(server, 'shop');
      await cast.owner.client.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
      await cast.owner.client.post('/api/apps/shop/content/notes', { data: { text: 'kept offsite' } });
      const credentials = { accessKeyId: env.credentials.accessKeyId, secretAccessKey: env.credentials.secretAccessKey };
      for (const body of [
        { name: 'offsite', type: 's3', s3: { endpoint: env.endpoint, region: env.region, bucket: locking, ...credentials }, objectLock: { mode: 'GOVERNANCE', days: 1 } },
        { name: 'flaky', type: 's3', s3: { endpoint: proxy.url, region: env.region, bucket: plain, ...credentials } },
        { name: 'nowhere', type: 's3', s3: { endpoint: env.endpoint, region: env.region, bucket: `${plain}-missing`, ...credentials } },
        { name: 'stranger', type: 's3', s3: { endpoint: env.endpoint, region: env.region, bucket: plain, accessKeyId: 'nosuchkey', secretAccessKey: 'wrongsecret' } },
      ]) {
        await addRepository(server.admin, body);
      }
    });
    afterAll(async () => {
      await server?.close();
      await proxy?.close();
      await buckets?.removeAll();
    });

    const head = (bucket: string, key: string) => buckets.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    it('a policy writes to local and to S3 with Object Lock; the copy is checked and locked, and survives a delete (409) and retention', async () => {
      const policies = server.app.get(BackupPoliciesService);
      const scheduler = server.app.get(BackupScheduler);
      const policy = await cast.owner.client.put('/api/apps/shop/backup-policy', { schedule: '0 0 1 1 *', keepLast: 1, repositories: ['local', 'offsite'] });
      expect(policy.status, JSON.stringify(policy.body)).toBe(200);
      const runNow = async () => {
        await policies.policies.put({ ...(await policies.policies.get(policy.body.appId))!, nextRun: '2020-01-01T00:00:00.000Z' });
        const [job] = await scheduler.runDue(new Date());
        await scheduler.idle();
        return (await server.admin.get(`/api/backups/${job!.id}`)).body as { id: string; status: string; copies: Copy[]; sha256: string; sizeBytes: number };
      };
      const first = await runNow();
      expect(first.status).toBe('Completed');
      const copy = copyIn(first, 'offsite');
      expect(copy).toMatchObject({ key: `appvault/shop/${first.id}.zip`, sha256: first.sha256, sizeBytes: first.sizeBytes, error: null });
      const lockedUntil = Date.parse(copy.lockedUntil!);
      expect(lockedUntil).toBeGreaterThan(Date.now() + 23 * 3600_000);
      const stored = await head(locking, copy.key);
      expect(stored.ObjectLockRetainUntilDate?.getTime()).toBe(lockedUntil);
      expect(stored.Metadata?.['sha256']).toBe(first.sha256);
      expect((await head(locking, `appvault/shop/${first.id}.copy.json`)).ObjectLockMode).toBe('GOVERNANCE');

      const refused = await server.admin.delete(`/api/backups/${first.id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.message).toBe(
        `Backup ${first.id} cannot be deleted: its copy in repository "offsite" (${copy.key}) is locked until ${copy.lockedUntil} (GOVERNANCE). Nothing was deleted; delete it after then.`,
      );
      expect((await server.admin.bytes(`/api/backups/${first.id}/archive`)).status).toBe(200);
      expect((await head(locking, copy.key)).ContentLength).toBe(first.sizeBytes);

      // keepLast 1 would prune the first backup now; its locked copy keeps it, and the policy says so.
      const second = await runNow();
      expect(second.status).toBe('Completed');
      expect((await server.admin.get(`/api/backups/${first.id}`)).status).toBe(200);
      const after = (await cast.owner.client.get('/api/apps/shop/backup-policy')).body;
      expect(after.lastWarning).toBe(
        `Retention kept 1 backup(s) its rules would delete, because a copy is locked: ${first.id} (in "offsite" until ${copy.lockedUntil}); a later run deletes them once their locks have passed`,
      );

      const verified = await server.admin.post(`/api/backups/${first.id}/verify`, { readData: true });
      expect(verified.status).toBe(200);
      expect(copyIn(verified.body, 'offsite')).toMatchObject({ error: null, lockedUntil: copy.lockedUntil });
      expect(copyIn(verified.body, 'offsite').verified! > copy.verified!).toBe(true);
      expect((await cast.owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
    });

    it('a store answering 503 SlowDown is tried again with backoff; one that stays down fails that copy alone', async () => {
      proxy.reset();
      // The SDK tries each request 6 times (the repository's default); COPY_ATTEMPTS tries the whole copy again once.
      proxy.failNext('PutObject', 6);
      const recovered = await backUp(server, cast, { repositories: ['local', 'flaky'] });
      expect(recovered.status).toBe('Completed');
      expect(copyIn(recovered, 'flaky')).toMatchObject({ error: null, sha256: recovered.sha256 });
      expect(proxy.refused).toBe(6);

      proxy.reset();
      // 503 without SlowDown (a store that is down): the SDK waits less between its tries than for throttling.
      proxy.failNext('PutObject', 1000, 503, 'ServiceUnavailable');
      const throttled = await backUp(server, cast, { repositories: ['flaky', 'local'] });
      expect(throttled.status).toBe('Completed');
      const failed = copyIn(throttled, 'flaky');
      expect(failed.written).toBeNull();
      expect(failed.error).toMatch(/503 ServiceUnavailable.*\(tried 2 times\)$/);
      expect(throttled.warnings).toEqual([`The copy to repository "flaky" failed: ${failed.error}`]);
      expect(copyIn(throttled, 'local').written).not.toBeNull();
      expect((await buckets.versions(plain, `appvault/shop/${throttled.id}`)).length).toBe(0);
      proxy.reset();
    });

    it('a connection cut mid-upload, a missing bucket and refused credentials each fail their copy with an error a person can read', async () => {
      proxy.reset();
      proxy.failNext('PutObject', 1000, 0);
      const backup = await backUp(server, cast, { repositories: ['flaky', 'nowhere', 'stranger', 'offsite'] });
      proxy.reset();
      expect(backup.status).toBe('Completed');
      expect(copyIn(backup, 'offsite').written).not.toBeNull();
      expect(copyIn(backup, 'flaky').error).toMatch(/network|connection|socket/i);
      expect(copyIn(backup, 'nowhere').error).toMatch(/bucket/i);
      expect(copyIn(backup, 'stranger').error).toMatch(/credential|access key|InvalidAccessKeyId/i);
      expect(backup.copies.map((c) => c.repository)).toEqual(['flaky', 'nowhere', 'stranger', 'offsite', 'local']);
      expect(backup.warnings).toHaveLength(4);
      expect((await buckets.versions(plain, `appvault/shop/${backup.id}`)).length).toBe(0);
      // The one good copy is whole.
      const verified = await server.admin.post(`/api/backups/${backup.id}/verify`, { readData: true });
      expect(copyIn(verified.body, 'offsite').error).toBeNull();
      // Failed copies in unreachable repositories do not stand in the way of a delete; the locked good one does.
      const refused = await server.admin.delete(`/api/backups/${backup.id}`);
      expect(refused.status).toBe(409);
      expect(refused.body.message).toContain('its copy in repository "offsite"');
    });
  });
}
