import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyArchiveKey } from '../../src/repositories/shared/copy-layout.js';
import { appReads, expectSameReads } from '../support/app-reads.js';
import { jsonOf, runCli } from '../support/cli-runner.js';
import { buildApp, type BuiltApp, waitForJob } from '../support/fixtures.js';
import { addRepository, backUp, copyIn, s3Repository, sha256 } from '../support/repositories.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { describeOnS3, requiredS3TestEnv, type S3TestEnv, S3TestBuckets } from '../support/s3-test-buckets.js';
import { ADMIN_TOKEN, startServer, type TestServer, tempDir } from '../support/test-server.js';
import { traces } from '../support/traces.js';

/** Every copy holds its archive whole: no file is shared (REPOSITORY_SHARED_FILE_MIN_BYTES=0). */
const WHOLE_COPIES = { REPOSITORY_SHARED_FILE_MIN_BYTES: '0' };

type Json = Record<string, unknown>;

/** The restore's temporary files (fetched archives) left in a DATA_DIR. */
const tempFiles = (dataDir: string) => (existsSync(join(dataDir, 'tmp')) ? readdirSync(join(dataDir, 'tmp')) : []);

/**
 * A failed restore left nothing, as the restore failure tests require: Failed with `error`, the
 * cleanup's last line, nothing of the new app in the stores, no temporary archive, and the name
 * free for anyone.
 */
async function expectNothingLeft(server: TestServer, job: Json, name: string): Promise<void> {
  expect(job.status).toBe('Failed');
  expect((job.log as { message: string }[]).at(-1)?.message).toMatch(/nothing of the new app remains/);
  if (job.appId) expect(traces(server.dataDir, job.appId as string)).toEqual({ events: 0, readRows: 0, blobs: 0 });
  expect(tempFiles(server.dataDir)).toEqual([]);
  expect((await server.admin.get(`/api/apps/${name}`)).status).toBe(404);
  const reuse = await server.admin.post('/api/apps', { name });
  expect(reuse.status, JSON.stringify(reuse.body)).toBe(201);
  expect((await server.admin.delete(`/api/apps/${name}`)).status).toBe(204);
}

/**
 * Two installations sharing a backup repository (each configured with the same folder or bucket
 * through its own API): the first backs up an app with assets to it, its copy step writing the
 * archive and the copy manifest; the second, with its own DATA_DIR and stores, restores it with
 * `{ repository, key }` to identical reads.
 */
describe('restore from a backup repository', () => {
  const folder = tempDir('appvault-repository-');
  let first: TestServer;
  let second: TestServer;
  let built: BuiltApp;
  let backupId: string;
  let key: string;
  let archive: Buffer;
  let eventCount: number;

  beforeAll(async () => {
    // These copies are held whole (copy format 1), as every copy of an app without large files is; copies with shared files: repository-shared-files.e2e.spec.ts.
    first = await startServer(WHOLE_COPIES);
    second = await startServer(WHOLE_COPIES);
    await addRepository(first.admin, { name: 'shelf', type: 'filesystem', path: folder });
    await addRepository(second.admin, { name: 'shelf', type: 'filesystem', path: folder });
    const owner = await first.admin.post('/api/users', { email: 'owner@example.com' });
    const dev = await first.admin.post('/api/users', { email: 'dev@example.com' });
    const ownerClient = first.client(owner.body.apiKey);
    await ownerClient.post('/api/apps', { name: 'shop', label: 'Shop' });
    await ownerClient.post('/api/apps/shop/contributors', { email: 'dev@example.com', role: 'Developer' });
    built = await buildApp('shop', [ownerClient, first.client(dev.body.apiKey)], { contents: 40, updates: 20 });
    const job = await backUp(ownerClient, first.admin, 'shop', { repositories: ['local', 'shelf'] });
    expect(job.status, JSON.stringify(job)).toBe('Completed');
    backupId = job.id;
    eventCount = job.eventCount;
    key = copyIn(job, 'shelf').key;
    archive = (await first.admin.bytes(`/api/backups/${backupId}/archive`)).bytes;
    expect(sha256(readFileSync(join(folder, key)))).toBe(sha256(archive));
  }, 180_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it("restores another installation's copy to identical reads: a dry run first, which writes nothing", async () => {
    expect(key).toBe(`appvault/shop/${backupId}.zip`);
    const dry = await second.admin.post('/api/restore', { repository: 'shelf', key, dryRun: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, valid: true, error: null, source: `repository:shelf/${key}`, sizeBytes: archive.length, app: { name: 'shop' }, name: { value: 'shop', available: true } });
    expect(dry.body.events).toEqual({ inArchive: eventCount, toRestore: eventCount });
    expect((await second.admin.get('/api/restore')).body.items).toEqual([]);
    expect((await second.admin.get('/api/apps/shop')).status).toBe(404);
    expect(tempFiles(second.dataDir)).toEqual([]);

    const started = await second.admin.post('/api/restore', { repository: 'shelf', key });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    // Named after the app in the archive, as an upload is, once the archive is read.
    expect(started.body).toMatchObject({ status: 'Scheduled', source: `repository:shelf/${key}`, name: null });
    const job = await waitForJob(second.admin, `/api/restore/${started.body.id}`);
    expect(job.status, JSON.stringify(job.log)).toBe('Completed');
    expect(job).toMatchObject({ name: 'shop', eventCount, restoredEvents: eventCount, restoredAssets: 9 });
    const log = (job.log as { message: string }[]).map((l) => l.message);
    expect(log).toContainEqual(expect.stringMatching(/^Reading "appvault\/shop\/.*" in repository "shelf" \(folder .*\); its copy manifest gives its SHA-256$/));
    expect(log).toContain(`Read ${archive.length} bytes, SHA-256 as in the copy manifest`);
    expect(tempFiles(second.dataDir)).toEqual([]);

    await expectSameReads({ client: first.admin, app: 'shop' }, { client: second.admin, app: 'shop' }, built.assets);
    expect((await second.admin.get('/api/apps/shop/content/products')).body.total).toBeGreaterThan(0);
  });

  it('refuses what cannot be a source before a job starts: unknown repository, a key outside the copy layout or hostile, no such copy, two sources; non-admins', async () => {
    const refused = async (body: Json, status: number, message: RegExp) => {
      for (const dryRun of [false, true]) {
        const res = await second.admin.post('/api/restore', { ...body, ...(dryRun ? { dryRun } : {}), name: 'never' });
        expect(res.status, `${JSON.stringify(body)} dryRun=${dryRun}: ${JSON.stringify(res.body)}`).toBe(status);
        expect(res.body.message).toMatch(message);
      }
    };
    await refused({ repository: 'nowhere', key }, 400, /There is no repository named "nowhere"/);
    for (const hostile of ['../../etc/passwd', `appvault/shop/../../${backupId}.zip`, '/etc/passwd', 'restore-uploads/x.zip', `appvault/shop/${backupId}.copy.json`, `appvault/Shop/${backupId}.zip`, 'appvault/shop/a/b.zip', 'appvault/shop/\u0000.zip']) {
      await refused({ repository: 'shelf', key: hostile }, 400, /is not a backup copy's archive: copies lie at appvault\/\{app name\}\/\{backup id\}\.zip/);
    }
    const missing = copyArchiveKey('shop', randomUUID());
    await refused({ repository: 'shelf', key: missing }, 404, new RegExp(`There is no backup copy at "${missing}" in repository "shelf"`));
    await refused({ repository: 'shelf' }, 400, /A repository source takes both repository and key/);
    await refused({ repository: 'shelf', key, backupId }, 400, /Send \{ url \}, \{ backupId \} or \{ repository, key \}/);
    const reader = await second.admin.post('/api/users', { email: 'reader@example.com' });
    expect((await second.client(reader.body.apiKey).post('/api/restore', { repository: 'shelf', key })).status).toBe(403);
    expect((await second.admin.get('/api/restore')).body.items.filter((r: Json) => r.name === 'never')).toEqual([]);
  });

  it('fails a restore whose archive is not the one its copy manifest names, leaving nothing', async () => {
    const replacedBackup = await backUp(first.admin, first.admin, 'shop', { repositories: ['shelf'] });
    expect(replacedBackup.status, JSON.stringify(replacedBackup)).toBe('Completed');
    const forged = copyIn(replacedBackup, 'shelf').key;
    // The copy's archive replaced by another whole, valid archive (the first backup's): not the bytes its copy manifest names.
    writeFileSync(join(folder, forged), archive);
    const started = await second.admin.post('/api/restore', { repository: 'shelf', key: forged, name: 'forged' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await waitForJob(second.admin, `/api/restore/${started.body.id}`);
    expect(job.error).toContain(`is not the one its copy manifest names (SHA-256 ${sha256(archive)}, expected ${replacedBackup.sha256}); the copy is damaged or was replaced`);
    await expectNothingLeft(second, job, 'forged');
    const dry = await second.admin.post('/api/restore', { repository: 'shelf', key: forged, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ valid: false, error: expect.stringMatching(/is not the one its copy manifest names/), app: null });
  });

  it('restores from a repository with the CLI: --dry-run, then --follow', async () => {
    const cli = (args: string[]) => runCli(args, { env: { APPVAULT_URL: second.url, APPVAULT_TOKEN: ADMIN_TOKEN } });
    const dry = await cli(['restore', '--from-repository', 'shelf', '--key', key, '--name', 'shop-cli', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`Dry run of a restore from repository:shelf/${key}: it would succeed; nothing was written.`);
    expect(dry.stdout).toMatch(/name: {5}shop-cli: free/);
    const run = await cli(['restore', '--from-repository', 'shelf', '--key', key, '--name', 'shop-cli', '--follow', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonOf(run)).toMatchObject({ status: 'Completed', name: 'shop-cli', source: `repository:shelf/${key}`, restoredEvents: eventCount });
    const bad = await cli(['restore', '--from-repository', 'shelf', '--key', '../x.zip']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a backup copy's archive/);
    const half = await cli(['restore', '--from-repository', 'shelf']);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--from-repository and --key go together/);
  });

  describeOnS3('on an S3 bucket', () => {
    let env: S3TestEnv;
    let buckets: S3TestBuckets;
    let proxy: S3FaultProxy;
    let bucket: string;
    let s3Key: string;
    let s3Archive: Buffer;

    beforeAll(async () => {
      env = requiredS3TestEnv();
      buckets = new S3TestBuckets(env);
      bucket = await buckets.create('sources');
      proxy = await S3FaultProxy.start(env.endpoint);
      // Both installations configured with the same bucket; the second also through a proxy that can cut a download.
      await addRepository(first.admin, s3Repository(env, 'offsite', bucket));
      await addRepository(second.admin, s3Repository(env, 'offsite', bucket));
      await addRepository(second.admin, s3Repository(env, 'flaky', bucket, { endpoint: proxy.url }));
      const job = await backUp(first.admin, first.admin, 'shop', { repositories: ['offsite'] });
      expect(job.status, JSON.stringify(job)).toBe('Completed');
      s3Key = copyIn(job, 'offsite').key;
      s3Archive = (await first.admin.bytes(`/api/backups/${job.id}/archive`)).bytes;
      expect(sha256(s3Archive)).toBe(job.sha256);
    }, 120_000);
    afterAll(async () => {
      await proxy?.close();
      await buckets?.removeAll();
    }, 180_000);

    it("restores the first installation's copy from the shared bucket to identical reads", async () => {
      const started = await second.admin.post('/api/restore', { repository: 'offsite', key: s3Key, name: 'shop-s3' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(second.admin, `/api/restore/${started.body.id}`);
      expect(job.status, JSON.stringify(job.log)).toBe('Completed');
      expect(job.source).toBe(`repository:offsite/${s3Key}`);
      const log = (job.log as { message: string }[]).map((l) => l.message);
      expect(log).toContainEqual(expect.stringMatching(new RegExp(`^Reading ".*" in repository "offsite" \\(s3://${bucket}.*\\); its copy manifest gives its SHA-256$`)));
      const original = await appReads(first.admin, 'shop', built.assets);
      const restored = await appReads(second.admin, 'shop-s3', built.assets);
      expect(restored).toEqual(original);
    });

    it('fails the restore in words and leaves nothing when the repository breaks off mid-download', async () => {
      proxy.reset();
      proxy.cutGetObjectAfter(Math.floor(s3Archive.length / 3));
      try {
        const started = await second.admin.post('/api/restore', { repository: 'flaky', key: s3Key, name: 'cut-off' });
        expect(started.status, JSON.stringify(started.body)).toBe(202);
        const job = await waitForJob(second.admin, `/api/restore/${started.body.id}`, 50_000);
        expect(job.error).toMatch(new RegExp(`^Reading "${s3Key}" in repository "flaky" \\(s3://${bucket}.*\\) failed after \\d+ bytes: .+`));
        expect(proxy.count('GetObject')).toBeGreaterThanOrEqual(2);
        await expectNothingLeft(second, job, 'cut-off');
        const dry = await second.admin.post('/api/restore', { repository: 'flaky', key: s3Key, name: 'cut-off', dryRun: true });
        expect(dry.status).toBe(200);
        expect(dry.body).toMatchObject({ valid: false, error: expect.stringMatching(/in repository "flaky" .* failed after \d+ bytes/), sizeBytes: null });
        expect(tempFiles(second.dataDir)).toEqual([]);
      } finally {
        proxy.reset();
      }
    });
  });
});
