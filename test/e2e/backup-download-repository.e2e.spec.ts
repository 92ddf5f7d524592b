import { copyFileSync, existsSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../support/fixtures.js';
import { addRepository, backUp, copyIn, s3Repository, sha256 } from '../support/repositories.js';
import { describeOnS3, requiredS3TestEnv, type S3TestEnv, S3TestBuckets } from '../support/s3-test-buckets.js';
import { startServer, type TestServer, tempDir } from '../support/test-server.js';

/** Every copy holds its archive whole: no file is shared (REPOSITORY_SHARED_FILE_MIN_BYTES=0). */
const WHOLE_COPIES = { REPOSITORY_SHARED_FILE_MIN_BYTES: '0' };

interface Made {
  id: string;
  archive: Buffer;
  sha256: string;
  /** Where its copy in a folder repository lies, when it has one. */
  file?: string;
}

/**
 * A Completed backup of a small app with files, made to `repositories` only: the archive store
 * drops its archive once every copy is made, so downloads can only read it from a copy.
 */
async function backupOf(server: TestServer, app: string, repositories: string[], folder?: string, contents = 8): Promise<Made> {
  await server.admin.post('/api/apps', { name: app });
  await buildApp(app, [server.admin], { contents, updates: 4 });
  const job = await backUp(server.admin, server.admin, app, { repositories });
  expect(job.status, JSON.stringify(job)).toBe('Completed');
  expect(job.copies.map((copy) => [copy.repository, copy.error])).toEqual(repositories.map((name) => [name, null]));
  expect(existsSync(join(server.dataDir, 'blobs', 'backups', `${job.id}.zip`))).toBe(false);
  const archive = (await server.admin.bytes(`/api/backups/${job.id}/archive`)).bytes;
  expect(sha256(archive)).toBe(job.sha256);
  const file = folder ? join(folder, copyIn(job, repositories[0]!).key) : undefined;
  if (file) expect(sha256(readFileSync(file))).toBe(job.sha256);
  return { id: job.id, archive, sha256: job.sha256, ...(file ? { file } : {}) };
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
 * Downloads of a backup whose archive is only in repositories (made to them alone, so the archive
 * store dropped it): the API and links stream from a copy with Range, ETag and Repr-Digest as
 * before; a copy whose stored object is no longer the archive is passed over; with
 * LINK_PRESIGNED_REDIRECTS a link redirects to a presigned URL of an S3 copy instead.
 */
describe('downloads of a backup kept only in repositories', () => {
  const shelf = tempDir('appvault-repository-');
  const spare = tempDir('appvault-repository-');
  let server: TestServer;
  let onShelf: Made;

  beforeAll(async () => {
    // Copies held whole (copy format 1), which these tests read and replace in place; copies with shared files: repository-shared-files.e2e.spec.ts.
    server = await startServer(WHOLE_COPIES);
    await addRepository(server.admin, { name: 'shelf', type: 'filesystem', path: shelf });
    await addRepository(server.admin, { name: 'spare', type: 'filesystem', path: spare });
    // More contents than the other apps here: its archive is larger than theirs.
    onShelf = await backupOf(server, 'shelved', ['shelf'], shelf, 16);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('streams the archive from the copy: whole, ranges, 416, ETag and Repr-Digest as from the archive store; links too', async () => {
    await expectDownloads(server, 'shelved', onShelf);
    const link = await linkOf(server, 'shelved', onShelf.id);
    const viaLink = await fetch(link.url, { redirect: 'manual' });
    expect(viaLink.status).toBe(200);
    expect(Buffer.from(await viaLink.arrayBuffer()).equals(onShelf.archive)).toBe(true);
  });

  it('passes over a copy that is no longer the archive, for the next one; says so (404) when no copy has it', async () => {
    const twice = await backupOf(server, 'twice', ['shelf', 'spare'], shelf);
    // The copy on the shelf cut short (an interrupted sync): the one in the spare folder serves instead.
    truncateSync(twice.file!, Math.floor(twice.archive.length / 2));
    await expectDownloads(server, 'twice', twice);

    // The only copy replaced by another backup's archive (a whole, valid zip): never served under this backup's ETag.
    const gone = await backupOf(server, 'gone', ['shelf'], shelf);
    expect(onShelf.archive.length).toBeGreaterThan(gone.archive.length);
    copyFileSync(onShelf.file!, gone.file!);
    const replaced = await server.admin.get(`/api/backups/${gone.id}/archive`);
    expect(replaced.status).toBe(404);
    expect(replaced.body.message).toBe(`The archive of backup ${gone.id} is no longer stored here, and no copy of it in a repository can be read`);
    const link = await linkOf(server, 'gone', gone.id);
    const viaLink = await fetch(link.url);
    expect(viaLink.status).toBe(404);
    expect(((await viaLink.json()) as { message: string }).message).toBe(replaced.body.message);
    rmSync(gone.file!);
    const removed = await server.admin.get(`/api/backups/${gone.id}/archive`);
    expect(removed.status).toBe(404);
    expect(removed.body.message).toBe(`The archive of backup ${gone.id} is no longer stored here, and no copy of it in a repository can be read`);
  });

  describeOnS3('from an S3 repository', () => {
    let env: S3TestEnv;
    let buckets: S3TestBuckets;
    let presigning: TestServer;
    let inBucket: Made;
    let presignedBackup: Made;
    let bucket: string;

    beforeAll(async () => {
      env = requiredS3TestEnv();
      buckets = new S3TestBuckets(env);
      bucket = await buckets.create('downloads');
      // Two installations configured with the same bucket, one of them presigning.
      await addRepository(server.admin, s3Repository(env, 'offsite', bucket));
      presigning = await startServer({ ...WHOLE_COPIES, LINK_PRESIGNED_REDIRECTS: 'true', LINK_PRESIGNED_TTL_SECONDS: '120' });
      await addRepository(presigning.admin, s3Repository(env, 'offsite', bucket));
      inBucket = await backupOf(server, 'in-bucket', ['offsite']);
      presignedBackup = await backupOf(presigning, 'presigned', ['offsite']);
    }, 120_000);
    afterAll(async () => {
      await presigning?.close();
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

    it('a copy replaced in the bucket is neither presigned nor streamed', async () => {
      // Another tool wrote over the copy (the bucket has no Object Lock): what is there is not the backup's archive.
      const key = `appvault/presigned/${presignedBackup.id}.zip`;
      await buckets.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: presignedBackup.archive.subarray(0, presignedBackup.archive.length - 1) }));
      const link = await linkOf(presigning, 'presigned', presignedBackup.id);
      const answer = await fetch(link.url, { redirect: 'manual' });
      expect(answer.status).toBe(404);
      expect(answer.headers.get('location')).toBeNull();
      expect(((await answer.json()) as { message: string }).message).toBe(`The archive of backup ${presignedBackup.id} is no longer stored here, and no copy of it in a repository can be read`);
      expect((await presigning.admin.get(`/api/backups/${presignedBackup.id}/archive`)).status).toBe(404);
    });
  });
});
