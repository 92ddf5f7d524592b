import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import { S3RepositoryStore } from '../../src/infrastructure/repository-store/s3-repository-store.adapter.js';
import { buildApp, waitForJob } from '../support/fixtures.js';
import { keepOnlyCopies, putCopy, startServerWithRepositories, TestRepositories } from '../support/repositories.js';
import { type S3TestEnv, S3TestBuckets, s3TestEnv, testConfig } from '../support/s3-test-buckets.js';
import { type TestServer, tempDir } from '../support/test-server.js';

const inCi = ['true', '1'].includes((process.env['CI'] ?? '').toLowerCase());
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Made {
  id: string;
  archive: Buffer;
  sha256: string;
}

/** A Completed backup of a small app with files. */
async function backupOf(server: TestServer, app: string): Promise<Made> {
  await server.admin.post('/api/apps', { name: app });
  await buildApp(app, [server.admin], { contents: 8, updates: 4 });
  const started = await server.admin.post(`/api/apps/${app}/backups`, {});
  const job = await waitForJob(server.admin, `/api/apps/${app}/backups/${started.body.id}`);
  expect(job.status, JSON.stringify(job)).toBe('Completed');
  const archive = (await server.admin.bytes(`/api/backups/${started.body.id}/archive`)).bytes;
  expect(sha256(archive)).toBe(job.sha256);
  return { id: started.body.id, archive, sha256: job.sha256 as string };
}

/** The download answers every archive route gives, whoever serves the bytes. */
async function expectDownloads(server: TestServer, app: string, made: Made): Promise<void> {
  const digest = `sha-256=:${Buffer.from(made.sha256, 'hex').toString('base64')}:`;
  for (const path of [`/api/backups/${made.id}/archive`, `/api/apps/${app}/backups/${made.id}/archive`]) {
    const whole = await server.admin.bytes(path);
    expect(whole.status, path).toBe(200);
    expect(whole.bytes.equals(made.archive), path).toBe(true);
    expect(whole.headers.get('etag')).toBe(`"${made.sha256}"`);
    expect(whole.headers.get('repr-digest')).toBe(digest);
    expect(whole.headers.get('content-length')).toBe(String(made.archive.length));
  }
  const part = await fetch(`${server.url}/api/backups/${made.id}/archive`, { headers: { authorization: `Bearer ${server.admin.token}`, range: 'bytes=100-1123' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 100-1123/${made.archive.length}`);
  expect(part.headers.get('repr-digest')).toBe(digest);
  expect(Buffer.from(await part.arrayBuffer()).equals(made.archive.subarray(100, 1124))).toBe(true);
  const tail = await fetch(`${server.url}/api/backups/${made.id}/archive`, { headers: { authorization: `Bearer ${server.admin.token}`, range: 'bytes=-77' } });
  expect(tail.status).toBe(206);
  expect(Buffer.from(await tail.arrayBuffer()).equals(made.archive.subarray(made.archive.length - 77))).toBe(true);
  const past = await fetch(`${server.url}/api/backups/${made.id}/archive`, { headers: { authorization: `Bearer ${server.admin.token}`, range: `bytes=${made.archive.length}-` } });
  expect(past.status).toBe(416);
  expect(past.headers.get('content-range')).toBe(`bytes */${made.archive.length}`);
  await past.arrayBuffer();
}

async function linkOf(server: TestServer, app: string, backupId: string): Promise<{ id: string; url: string; expires: string }> {
  const link = await server.admin.post(`/api/apps/${app}/backups/${backupId}/links`, { expiresIn: '1h' });
  expect(link.status, JSON.stringify(link.body)).toBe(201);
  return link.body;
}

/**
 * Downloads of a backup whose archive is no longer in the archive store (retention removed it)
 * while copies remain in repositories: the API and links stream from a copy with Range, ETag
 * and Repr-Digest as before; with LINK_PRESIGNED_REDIRECTS a link redirects to a presigned URL
 * of an S3 copy instead.
 */
describe('downloads of a backup kept only in repositories', () => {
  const folder = tempDir('appvault-repository-');
  const repositories = new TestRepositories().add('shelf', new FilesystemRepositoryStore(folder));
  let server: TestServer;
  let onShelf: Made;

  beforeAll(async () => {
    server = await startServerWithRepositories(repositories);
    onShelf = await backupOf(server, 'shelved');
    const copy = await putCopy(server, 'shelved', onShelf.id, (await repositories.open('shelf')).store);
    await keepOnlyCopies(server, onShelf.id, [{ repository: 'shelf', key: copy.key, sizeBytes: onShelf.archive.length, sha256: onShelf.sha256 }]);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await repositories.close();
  });

  it('streams the archive from the copy: whole, ranges, 416, ETag and Repr-Digest as from the archive store; links too', async () => {
    await expectDownloads(server, 'shelved', onShelf);
    const link = await linkOf(server, 'shelved', onShelf.id);
    const viaLink = await fetch(link.url, { redirect: 'manual' });
    expect(viaLink.status).toBe(200);
    expect(Buffer.from(await viaLink.arrayBuffer()).equals(onShelf.archive)).toBe(true);
  });

  it('says so when neither the archive store nor a copy has it (404), and skips a copy that is not the same archive', async () => {
    const gone = await backupOf(server, 'gone');
    const copy = await putCopy(server, 'gone', gone.id, (await repositories.open('shelf')).store);
    // A recorded copy whose SHA-256 is not the backup's is never served under the backup's ETag.
    await keepOnlyCopies(server, gone.id, [{ repository: 'shelf', key: copy.key, sizeBytes: gone.archive.length, sha256: '0'.repeat(64) }]);
    const res = await server.admin.get(`/api/backups/${gone.id}/archive`);
    expect(res.status).toBe(404);
    expect(res.body.message).toBe(`The archive of backup ${gone.id} is no longer stored here, and no copy of it in a repository can be read`);
  });

  if (!s3TestEnv && !inCi) {
    describe.skip('from an S3 repository (needs S3_TEST_ENDPOINT)', () => {
      it('streams and presigns', () => undefined);
    });
  } else {
    describe('from an S3 repository', () => {
      let env: S3TestEnv;
      let buckets: S3TestBuckets;
      let presigning: TestServer;
      const presigningRepositories = new TestRepositories();
      let inBucket: Made;
      let presignedBackup: Made;

      beforeAll(async () => {
        if (!s3TestEnv) throw new Error('S3_TEST_ENDPOINT is not set: with CI=true the S3 suites must run against a server (.ci/run starts radosgw), not skip');
        env = s3TestEnv;
        buckets = new S3TestBuckets(env);
        const bucket = await buckets.create('downloads');
        repositories.add('offsite', new S3RepositoryStore(testConfig(env, bucket), env.credentials));
        presigningRepositories.add('offsite', new S3RepositoryStore(testConfig(env, bucket), env.credentials));
        presigning = await startServerWithRepositories(presigningRepositories, { LINK_PRESIGNED_REDIRECTS: 'true', LINK_PRESIGNED_TTL_SECONDS: '120' });
        inBucket = await backupOf(server, 'in-bucket');
        const copy = await putCopy(server, 'in-bucket', inBucket.id, (await repositories.open('offsite')).store);
        await keepOnlyCopies(server, inBucket.id, [{ repository: 'offsite', key: copy.key, sizeBytes: inBucket.archive.length, sha256: inBucket.sha256 }]);
        presignedBackup = await backupOf(presigning, 'presigned');
        const other = await putCopy(presigning, 'presigned', presignedBackup.id, (await presigningRepositories.open('offsite')).store);
        await keepOnlyCopies(presigning, presignedBackup.id, [{ repository: 'offsite', key: other.key, sizeBytes: presignedBackup.archive.length, sha256: presignedBackup.sha256 }]);
      }, 120_000);
      afterAll(async () => {
        await presigning?.close();
        await presigningRepositories.close();
        await buckets?.removeAll();
      }, 180_000);

      it('streams from the bucket with ranges; a link streams too while presigned redirects are off (the default)', async () => {
        await expectDownloads(server, 'in-bucket', inBucket);
        const link = await linkOf(server, 'in-bucket', inBucket.id);
        const viaLink = await fetch(link.url, { redirect: 'manual' });
        expect(viaLink.status).toBe(200);
        expect(Buffer.from(await viaLink.arrayBuffer()).equals(inBucket.archive)).toBe(true);
      });

      it('with LINK_PRESIGNED_REDIRECTS a link redirects to a presigned URL of the copy, which serves the same bytes and ends with its TTL; a revoked link makes none', async () => {
        const link = await linkOf(presigning, 'presigned', presignedBackup.id);
        const before = Math.floor(Date.now() / 1000);
        const answer = await fetch(link.url, { redirect: 'manual' });
        expect(answer.status).toBe(302);
        expect(answer.headers.get('cache-control')).toBe('no-store');
        expect(await answer.text()).toBe('');
        const location = new URL(answer.headers.get('location')!);
        expect(location.origin).toBe(new URL(env.endpoint).origin);
        expect(location.pathname).toMatch(new RegExp(`/appvault/presigned/${presignedBackup.id}\\.zip$`));
        expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
        const ttl = Number(location.searchParams.get('X-Amz-Expires'));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(120);
        expect(Date.parse(link.expires) / 1000).toBeGreaterThan(before + ttl);
        const direct = await fetch(location);
        expect(direct.status).toBe(200);
        expect(Buffer.from(await direct.arrayBuffer()).equals(presignedBackup.archive)).toBe(true);
        // The API itself never redirects: keyed downloads stream as before.
        await expectDownloads(presigning, 'presigned', presignedBackup);
        expect((await presigning.admin.delete(`/api/apps/presigned/backups/${presignedBackup.id}/links/${link.id}`)).status).toBe(204);
        const revoked = await fetch(link.url, { redirect: 'manual' });
        expect(revoked.status).toBe(410);
        expect(revoked.headers.get('location')).toBeNull();
      });
    });
  }
});
