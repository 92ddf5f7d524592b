import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { S3RepositoryStore } from '../../src/infrastructure/repository-store/s3-repository-store.adapter.js';
import { copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { jsonOf, runCli } from '../support/cli-runner.js';
import { until, waitForJob } from '../support/fixtures.js';
import { inCi, requiredS3TestEnv, type S3TestEnv, S3TestBuckets, s3TestEnv, testConfig } from '../support/s3-test-buckets.js';
import { ADMIN_TOKEN, type ApiResponse, tempDir } from '../support/test-server.js';
import { copyManifest, put } from '../support/copy-manifests.js';

/**
 * Repositories in S3 buckets, over real HTTP and the real CLI, against a real S3 server (Ceph's
 * radosgw in CI; S3_TEST_ENDPOINT anywhere). The server runs as its own process with every log
 * line on, so the test can read all it logged: no secret may appear there, nor in an answer, the
 * CLI's output, a job record or anything else under DATA_DIR but the stored credentials.
 */
const WRONG_SECRET = 'wrong-Secret-8f3a9c27d1';

if (!s3TestEnv && !inCi) {
  console.log('SKIP S3 repository e2e: S3_TEST_ENDPOINT is not set (scripts/ceph-s3.sh start /tmp/ceph-s3, then S3_TEST_ENDPOINT=http://127.0.0.1:7480 S3_TEST_ACCESS_KEY=ciaccesskey S3_TEST_SECRET_KEY=cisecretkey)');
  describe.skip('backup repositories over HTTP: S3 (needs S3_TEST_ENDPOINT)', () => {
    it('runs against an S3-compatible server', () => undefined);
  });
} else {
  describe('backup repositories over HTTP and the CLI: S3', () => {
    let env: S3TestEnv;
    let buckets: S3TestBuckets;
    let plain: string;
    let locking: string;
    let dataDir: string;
    let server: ChildServer;
    const seen: string[] = [];
    const secretFile = join(tempDir('appvault-secret-'), 'secret.txt');
    const credentialsFile = join(tempDir('appvault-creds-'), 's3.json');

    const record = <T>(res: ApiResponse<T>) => {
      seen.push(JSON.stringify(res.body));
      return res;
    };
    const http = {
      get: async (path: string) => record(await server.admin.get(path)),
      post: async (path: string, body?: unknown) => record(await server.admin.post(path, body)),
      put: async (path: string, body?: unknown) => record(await server.admin.put(path, body)),
    };
    const cli = async (...args: string[]) => {
      const run = await runCli(args, { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: ADMIN_TOKEN, APPVAULT_SECRET_ACCESS_KEY: '' } });
      seen.push(run.stdout, run.stderr);
      return run;
    };
    const start = (extra: Record<string, string> = {}) =>
      startChildServer(dataDir, { LOG_LEVEL: 'verbose', REPO_KEY_ID: env.credentials.accessKeyId, REPO_SECRET: env.credentials.secretAccessKey, ...extra });
    const s3 = (bucket: string, more: Record<string, unknown> = {}) => ({ endpoint: env.endpoint, region: env.region, bucket, ...more });

    beforeAll(async () => {
      env = requiredS3TestEnv();
      buckets = new S3TestBuckets(env);
      plain = await buckets.create('repos');
      locking = await buckets.create('repos-lock', true);
      writeFileSync(secretFile, `${env.credentials.secretAccessKey}\n`, { mode: 0o600 });
      writeFileSync(credentialsFile, JSON.stringify(env.credentials), { mode: 0o600 });
      dataDir = tempDir('appvault-s3repos-');
      server = await start();
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
      await buckets?.removeAll();
    }, 180_000);

    it('adds a bucket with stored credentials through the CLI (the secret from a file), shows where they come from, never what they are', async () => {
      const added = await cli('repository', 'add', 'offsite', '--type', 's3', '--endpoint', env.endpoint, '--bucket', plain, '--prefix', 'team-a', '--access-key-id', env.credentials.accessKeyId, '--secret-access-key-file', secretFile, '--json');
      expect(added.code, added.stderr).toBe(0);
      const repository = jsonOf<Record<string, unknown>>(added);
      expect(repository).toMatchObject({ name: 'offsite', type: 's3', credentials: 'stored', location: `s3://${plain}/team-a/ at ${env.endpoint}` });
      expect(repository['s3']).toEqual({ endpoint: env.endpoint, region: 'us-east-1', bucket: plain, prefix: 'team-a/', forcePathStyle: true, storageClass: null, accessKeyIdEnv: null, secretAccessKeyEnv: null, secretsFile: null });

      const check = await cli('repository', 'check', 'offsite');
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toMatch(/ok +bucket/);
      expect(check.stdout).toContain('Repository offsite works.');
      const shown = await cli('repository', 'show', 'offsite');
      expect(shown.stdout).toContain('Credentials: stored by AppVault (never shown)');

      // No secret on the command line: without the file or the variable, the CLI refuses.
      const refused = await cli('repository', 'add', 'nosecret', '--type', 's3', '--bucket', plain, '--access-key-id', 'x');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('--secret-access-key-file');
    });

    it('takes credentials from the server’s environment or a secrets file, and checks each', async () => {
      const fromEnv = await http.post('/api/repositories', { name: 'from-env', type: 's3', s3: s3(plain, { prefix: 'env', accessKeyIdEnv: 'REPO_KEY_ID', secretAccessKeyEnv: 'REPO_SECRET' }) });
      expect(fromEnv.status).toBe(201);
      expect(fromEnv.body).toMatchObject({ credentials: 'environment', s3: { accessKeyIdEnv: 'REPO_KEY_ID', secretAccessKeyEnv: 'REPO_SECRET' } });
      const fromFile = await http.post('/api/repositories', { name: 'from-file', type: 's3', s3: s3(plain, { prefix: 'file', secretsFile: credentialsFile }) });
      expect(fromFile.status).toBe(201);
      expect(fromFile.body).toMatchObject({ credentials: 'file', s3: { secretsFile: credentialsFile } });
      for (const name of ['from-env', 'from-file']) {
        const check = await http.post(`/api/repositories/${name}/check`);
        expect(check.body, name).toMatchObject({ ok: true });
        expect(check.body.steps.map((s: { step: string }) => s.step)).toEqual(['bucket', 'write', 'read', 'delete']);
      }
      const list = await cli('repository', 'list');
      expect(list.stdout).toMatch(/from-env +s3 .* environment/);
    });

    it('a wrong secret and a missing bucket: the check says which step failed and why, in words', async () => {
      const wrong = await http.post('/api/repositories', { name: 'wrong-key', type: 's3', s3: s3(plain, { accessKeyId: env.credentials.accessKeyId, secretAccessKey: WRONG_SECRET }) });
      expect(wrong.status).toBe(201);
      const check = await http.post('/api/repositories/wrong-key/check');
      expect(check.status).toBe(200);
      expect(check.body.ok).toBe(false);
      expect(check.body.steps[0]).toMatchObject({ step: 'bucket', ok: false });
      expect(check.body.steps[0].message).toMatch(/secret|signature|credentials/i);
      const viaCli = await cli('repository', 'check', 'wrong-key');
      expect(viaCli.code).toBe(1);
      expect(viaCli.stdout).toMatch(/FAIL bucket/);

      const missing = await http.post('/api/repositories', { name: 'no-bucket', type: 's3', s3: s3(`appvault-missing-${randomUUID().slice(0, 8)}`, { secretsFile: credentialsFile }) });
      expect(missing.status).toBe(201);
      const gone = await http.post('/api/repositories/no-bucket/check');
      expect(gone.body.ok).toBe(false);
      expect(gone.body.steps[0]).toMatchObject({ step: 'bucket', ok: false });
      expect(gone.body.steps[0].message).toMatch(/no (such )?bucket|does not exist/i);
      const listing = await http.get('/api/repositories/no-bucket/backups');
      expect(listing.status).toBe(503);
      expect(listing.body.message).toContain('Cannot list the repository "no-bucket"');
    });

    it('locks copies only in a bucket with Object Lock enabled, and says so otherwise', async () => {
      const lock = { mode: 'GOVERNANCE', days: 1 };
      const refused = await http.post('/api/repositories', { name: 'locked', type: 's3', s3: s3(plain, { secretsFile: credentialsFile }), objectLock: lock });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toContain('does not have Object Lock enabled');
      const created = await http.post('/api/repositories', { name: 'locked', type: 's3', s3: s3(locking, { secretsFile: credentialsFile }), objectLock: lock });
      expect(created.status).toBe(201);
      expect(created.body.objectLock).toEqual(lock);
      const check = await http.post('/api/repositories/locked/check');
      expect(check.body.steps).toContainEqual(expect.objectContaining({ step: 'object-lock', ok: true }));
      // Moving it to a bucket without Object Lock while it locks copies is refused too.
      const moved = await http.put('/api/repositories/locked', { s3: s3(plain), objectLock: lock });
      expect(moved.status).toBe(400);
      expect(moved.body.message).toContain('does not have Object Lock enabled');
      expect((await http.get('/api/repositories/locked')).body.s3.bucket).toBe(locking);
      // Kept credentials (left out of the update) still work: the file is kept.
      const updated = await http.put('/api/repositories/locked', { s3: s3(locking), objectLock: { mode: 'GOVERNANCE', days: 2 } });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ credentials: 'file', objectLock: { days: 2 } });
      const updatedCli = await cli('repository', 'update', 'locked', '--object-lock-days', '3', '--json');
      expect(updatedCli.code, updatedCli.stderr).toBe(0);
      expect(jsonOf(updatedCli)).toMatchObject({ objectLock: { mode: 'GOVERNANCE', days: 3 }, credentials: 'file' });
      // A PUT naming only the lock keeps the bucket settings and credentials as stored, and still checks the bucket can lock.
      const lockOnly = await http.put('/api/repositories/locked', { objectLock: { mode: 'GOVERNANCE', days: 4 } });
      expect(lockOnly.status, JSON.stringify(lockOnly.body)).toBe(200);
      expect(lockOnly.body).toMatchObject({ s3: { bucket: locking, endpoint: env.endpoint }, credentials: 'file', objectLock: { mode: 'GOVERNANCE', days: 4 } });
      expect((await http.post('/api/repositories/locked/check')).body.ok).toBe(true);
      const appendOnly = await http.put('/api/repositories/locked', { appendOnly: true });
      expect(appendOnly.status).toBe(400);
      expect(appendOnly.body.message).toContain('appendOnly: only for filesystem repositories');
      // Moving to a bucket without Object Lock while the (kept) lock stays is refused.
      const movedKeptLock = await http.put('/api/repositories/locked', { s3: s3(plain) });
      expect(movedKeptLock.status).toBe(400);
      expect(movedKeptLock.body.message).toContain('does not have Object Lock enabled');
      expect((await http.get('/api/repositories/locked')).body).toMatchObject({ s3: { bucket: locking }, objectLock: { days: 4 } });
    });

    it('lists copies another installation wrote into the bucket', async () => {
      const store = new S3RepositoryStore(testConfig(env, plain, { prefix: 'team-a' }), env.credentials);
      const other = randomUUID();
      const id = randomUUID();
      const key = copyArchiveKey('shop', id);
      await put(store, key, 'zip bytes');
      await put(store, copyManifestKey(key), JSON.stringify(copyManifest(other, 'shop', id)));
      await put(store, 'appvault/shop/broken.copy.json', 'not json');
      await store.close();
      const listed = await http.get('/api/repositories/offsite/backups');
      expect(listed.status).toBe(200);
      expect(listed.body.items).toEqual([
        expect.objectContaining({ key, installation: other, own: false, backup: expect.objectContaining({ id, appName: 'shop' }), error: null }),
        expect.objectContaining({ key: 'appvault/shop/broken.zip', backup: null, error: expect.stringContaining('not valid JSON') }),
      ]);
      const viaCli = await cli('repository', 'backups', 'offsite');
      expect(viaCli.code).toBe(0);
      expect(viaCli.stdout).toContain(id);
      expect(viaCli.stdout).toContain(other);
      expect(jsonOf(await cli('repository', 'backups', 'offsite', '--json'))).toEqual(listed.body);
    });

    it('sweeps stale multipart uploads at start-up; a repository that is down is logged, start-up goes on', async () => {
      await buckets.abandonUpload(plain, 'team-a/appvault/shop/killed.zip');
      expect(await buckets.uploads(plain, 'team-a/')).toHaveLength(1);
      // Older than the age the restarted server is given.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await server.stop();
      seen.push(server.output());
      server = await start({ REPOSITORY_STALE_UPLOAD_MS: '1000' });
      await until(async () => ((await buckets.uploads(plain, 'team-a/')).length === 0 ? true : undefined), 'the stale upload to be swept');
      await until(async () => (server.output().includes('could not sweep') ? true : undefined), 'the down repository to be logged');
      expect(server.output()).toMatch(/Repository "offsite" \(.*\): removed 1 unfinished upload older than 1 s/);
      expect(server.output()).toMatch(/Repository "no-bucket": could not sweep unfinished uploads .*: /);
      expect((await server.admin.get('/health/ready')).status).toBe(200);
    });

    it('never shows, logs or stores a secret anywhere but the stored credentials', async () => {
      // A backup, so there are job records and an archive to look into.
      expect((await server.admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
      const backup = await server.admin.post('/api/apps/shop/backups', { label: 'x' });
      const done = await waitForJob(server.admin, `/api/apps/shop/backups/${backup.body.id}`);
      expect(done.status).toBe('Completed');
      const archive = await server.admin.bytes(`/api/apps/shop/backups/${backup.body.id}/archive`);
      seen.push(JSON.stringify((await http.get('/api/repositories')).body));
      await server.stop();
      seen.push(server.output(), archive.bytes.toString('latin1'));

      const secrets = [env.credentials.secretAccessKey, WRONG_SECRET];
      const everything = seen.join('\n');
      expect(everything.length).toBeGreaterThan(10_000);
      for (const secret of secrets) expect(everything).not.toContain(secret);

      // In the data folder: only the stored credentials hold them; no job record, policy or other file does.
      const store = new SqliteReadStore(join(dataDir, 'read.db'));
      try {
        for (const name of ['backup_jobs', 'restore_jobs', 'rollback_jobs', 'backup_policies', 'repositories', 'installation']) {
          const docs: unknown[] = [];
          for await (const doc of store.collection(name).iterate({})) docs.push(doc);
          for (const secret of secrets) expect(JSON.stringify(docs), name).not.toContain(secret);
        }
        const stored: unknown[] = [];
        for await (const doc of store.collection('repository_credentials').iterate({})) stored.push(doc);
        expect(JSON.stringify(stored)).toContain(WRONG_SECRET);
      } finally {
        await store.close();
      }
      const files = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('read.db'));
      expect(files.length).toBeGreaterThan(2);
      for (const file of files) {
        const bytes = readFileSync(join(file.parentPath, file.name)).toString('latin1');
        for (const secret of secrets) expect(bytes, file.name).not.toContain(secret);
      }
      server = await start();
    }, 120_000);
  });
}
