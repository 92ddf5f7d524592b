import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockedError, type ProbeResult, RepositoryStoreError } from '../../src/infrastructure/repository-store/repository-store.port.js';
import type { S3RepositoryConfig } from '../../src/infrastructure/repository-store/s3-repository-config.js';
import { S3RepositoryStore } from '../../src/infrastructure/repository-store/s3-repository-store.adapter.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { inCi, requiredS3TestEnv, type S3TestEnv, S3TestBuckets, s3TestEnv, testConfig } from '../support/s3-test-buckets.js';
import { repositoryStoreContract } from './repository-store.contract.js';

/**
 * The S3 adapter against a real S3-compatible server: radosgw (Ceph) in CI, started by .ci/run
 * (scripts/ceph-s3.sh), or any server named by S3_TEST_ENDPOINT. Without one the suite is
 * registered as skipped; with CI=true a missing server fails the run instead.
 */
const MiB = 1024 * 1024;
const PART = 5 * MiB;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const stepOf = (result: ProbeResult, step: string) => result.steps.find((s) => s.step === step);

if (!s3TestEnv && !inCi) {
  console.log(
    'SKIP S3 repository store suites: S3_TEST_ENDPOINT is not set (run scripts/ceph-s3.sh start /tmp/ceph-s3, then S3_TEST_ENDPOINT=http://127.0.0.1:7480 S3_TEST_ACCESS_KEY=ciaccesskey S3_TEST_SECRET_KEY=cisecretkey)',
  );
  describe.skip('RepositoryStore: s3 (needs S3_TEST_ENDPOINT)', () => {
    it('runs against an S3-compatible server', () => undefined);
  });
} else {
  const needEnv = requiredS3TestEnv;

  describe('S3 repository store on a real server', () => {
    let env: S3TestEnv;
    let buckets: S3TestBuckets;
    let plain: string;
    let locking: string;
    const stores: S3RepositoryStore[] = [];
    const open = (config: S3RepositoryConfig, credentials = env.credentials) => {
      const store = new S3RepositoryStore(config, credentials);
      stores.push(store);
      return store;
    };

    beforeAll(async () => {
      env = needEnv();
      buckets = new S3TestBuckets(env);
      plain = await buckets.create('plain');
      locking = await buckets.create('lock', true);
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await buckets?.removeAll();
    }, 180_000);

    const contractFixture = (bucket: () => string, prefix: string) => async () => {
      const config = testConfig(env, bucket(), { prefix, partSizeBytes: PART, queueSize: 1 });
      const store = open(config);
      return {
        store,
        receivedBytes: (key: string) => buckets.partBytes(bucket(), config.prefix + key),
        pendingUploads: async (p: string) => (await buckets.uploads(bucket(), config.prefix + p)).map((u) => u.key),
        leaveStaleUpload: (key: string) => buckets.abandonUpload(bucket(), config.prefix + key),
        // One part being filled, one in flight (queueSize 1), and what the listing of parts has not caught up with.
        readAheadLimit: 3 * PART,
        largeBytes: 6 * PART + 123,
        close: async () => undefined,
      };
    };
    repositoryStoreContract('s3 (plain bucket)', contractFixture(() => plain, 'repo/'));
    // Versioned (Object Lock turns versioning on): deletes must remove versions, not add delete markers.
    repositoryStoreContract('s3 (Object Lock bucket, no default lock)', contractFixture(() => locking, 'versioned/'));

    it('verifies each put by the ETag of the MD5s sent, or reads it back when asked to', async () => {
      const store = open(testConfig(env, plain, { prefix: 'verify/', partSizeBytes: PART }));
      const big = randomBytes(2 * PART + 10);
      const multi = await store.put('multi', Readable.from([big]));
      const single = await store.put('single', Readable.from([randomBytes(1000)]));
      // radosgw ignores x-amz-checksum-*; a server that keeps them is verified by 'sha256-checksum'.
      for (const result of [multi, single]) expect(['md5-etag', 'sha256-checksum']).toContain(result.verifiedBy);
      if (multi.verifiedBy === 'md5-etag') expect(multi.etag).toMatch(/^[0-9a-f]{32}-3$/);
      const paranoid = open(testConfig(env, plain, { prefix: 'verify/', partSizeBytes: PART, readBackVerify: true }));
      expect(await paranoid.put('again', Readable.from([big]))).toMatchObject({ verifiedBy: 'read-back', sha256: sha256(big), size: big.length });
    });

    it("uses larger parts for an object told to be larger than 10,000 parts of the repository's size", async () => {
      const store = open(testConfig(env, plain, { prefix: 'sized/', partSizeBytes: PART, queueSize: 2 }));
      const bytes = randomBytes(11 * MiB);
      const configured = await store.put('configured', Readable.from([bytes]));
      // 50,000 MiB and a byte need parts of 6 MiB: 11 MiB then goes in two parts, not three.
      const grown = await store.put('grown', Readable.from([bytes]), { sizeBytes: PART * 10_000 + 1 });
      for (const result of [configured, grown]) expect(result).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
      if (configured.verifiedBy === 'md5-etag') {
        expect(configured.etag).toMatch(/-3$/);
        expect(grown.etag).toMatch(/-2$/);
      }
      expect(sha256(await readAll(await store.get('grown')))).toBe(sha256(bytes));
      await expect(store.put('x', Readable.from([bytes]), { sizeBytes: -1 })).rejects.toMatchObject({ reason: 'config' });
    });

    it('stores the expected SHA-256 with the object, so head tells it later', async () => {
      const store = open(testConfig(env, plain, { prefix: 'meta/' }));
      const bytes = randomBytes(5000);
      await store.put('with-hash', Readable.from([bytes]), { sha256: sha256(bytes), contentType: 'application/zip' });
      expect(await store.head('with-hash')).toMatchObject({ size: 5000, sha256: sha256(bytes) });
      await store.put('without', Readable.from([bytes]));
      expect((await store.head('without'))?.sha256).toBeUndefined();
    });

    describe('Object Lock', () => {
      it('GOVERNANCE: a locked copy cannot be deleted by AppVault (LockedError with the date); an operator with bypass can', async () => {
        const store = open(testConfig(env, locking, { prefix: 'gov/' }));
        const until = new Date(Date.now() + 10 * 60_000);
        const result = await store.put('copy.zip', Readable.from([randomBytes(2000)]), { lockUntil: until, lockMode: 'GOVERNANCE' });
        expect(result.lockMode).toBe('GOVERNANCE');
        expect(Math.abs(result.lockedUntil!.getTime() - until.getTime())).toBeLessThan(1000);
        const error = await store.delete('copy.zip').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LockedError);
        expect(error).toMatchObject({ reason: 'locked', mode: 'GOVERNANCE' });
        expect((error as LockedError).until!.getTime()).toBe(result.lockedUntil!.getTime());
        expect((error as Error).message).toContain(`locked until ${result.lockedUntil!.toISOString()} (GOVERNANCE)`);
        expect(await store.head('copy.zip')).toMatchObject({ size: 2000, lockMode: 'GOVERNANCE' });
        // The lock is the store's, not AppVault's bookkeeping: the store itself refuses a plain delete of the version…
        await expect(buckets.client.send(new DeleteObjectCommand({ Bucket: locking, Key: 'gov/copy.zip', VersionId: result.versionId }))).rejects.toMatchObject({
          name: 'AccessDenied',
        });
        // …and lifts it for an operator who bypasses governance (AppVault never does).
        await buckets.client.send(new DeleteObjectCommand({ Bucket: locking, Key: 'gov/copy.zip', VersionId: result.versionId, BypassGovernanceRetention: true }));
        expect(await store.head('copy.zip')).toBeUndefined();
      });

      it('COMPLIANCE on a multipart upload: locked even where the store ignores lock headers on multipart uploads; nobody can delete it', async () => {
        const store = open(testConfig(env, locking, { prefix: 'compliance/', partSizeBytes: PART }));
        // Short, so the bucket can be emptied at the end of the run (nothing lifts COMPLIANCE early).
        const until = new Date(Date.now() + 25_000);
        const result = await store.put('copy.zip', Readable.from([randomBytes(2 * PART + 1)]), { lockUntil: until, lockMode: 'COMPLIANCE' });
        expect(result).toMatchObject({ lockMode: 'COMPLIANCE' });
        expect(await store.head('copy.zip')).toMatchObject({ lockMode: 'COMPLIANCE', lockedUntil: result.lockedUntil });
        await expect(store.delete('copy.zip')).rejects.toMatchObject({ reason: 'locked', mode: 'COMPLIANCE', until: result.lockedUntil });
        await expect(
          buckets.client.send(new DeleteObjectCommand({ Bucket: locking, Key: 'compliance/copy.zip', VersionId: result.versionId, BypassGovernanceRetention: true })),
        ).rejects.toMatchObject({ name: 'AccessDenied' });
        expect(await store.head('copy.zip')).toMatchObject({ size: 2 * PART + 1 });
      });

      it("applies the repository's default lock to every put", async () => {
        const store = open(testConfig(env, locking, { prefix: 'default/', objectLock: { mode: 'GOVERNANCE', days: 2 } }));
        const before = Date.now();
        const result = await store.put('copy.zip', Readable.from([randomBytes(100)]));
        expect(result.lockMode).toBe('GOVERNANCE');
        expect(result.lockedUntil!.getTime()).toBeGreaterThanOrEqual(before + 2 * 86_400_000 - 60_000);
        await expect(store.delete('copy.zip')).rejects.toBeInstanceOf(LockedError);
        const probe = await store.probe();
        expect(stepOf(probe, 'object-lock')).toMatchObject({ ok: true });
      });

      it('refuses a lock on a bucket without Object Lock, and leaves no object', async () => {
        const store = open(testConfig(env, plain, { prefix: 'nolock/', partSizeBytes: PART }));
        for (const size of [100, 2 * PART]) {
          const error = await store.put(`copy-${size}`, Readable.from([randomBytes(size)]), { lockUntil: new Date(Date.now() + 60_000) }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RepositoryStoreError);
          expect(error).toMatchObject({ reason: 'unsupported' });
          expect((error as Error).message).toMatch(/Object Lock|lock/);
          expect(await store.head(`copy-${size}`)).toBeUndefined();
        }
        expect(await buckets.uploads(plain, 'nolock/')).toEqual([]);
      });

      it('deletes every version of an unlocked key on a versioned bucket, not just the newest', async () => {
        const store = open(testConfig(env, locking, { prefix: 'versions/' }));
        await store.put('k', Readable.from([Buffer.from('one')]));
        await store.put('k', Readable.from([Buffer.from('two')]));
        expect((await buckets.versions(locking, 'versions/k')).length).toBe(2);
        await store.delete('k');
        expect(await buckets.versions(locking, 'versions/k')).toEqual([]);
      });
    });

    describe('through a fault-injecting proxy in front of the server', () => {
      let proxy: S3FaultProxy;
      beforeAll(async () => {
        proxy = await S3FaultProxy.start(env.endpoint);
      });
      afterAll(async () => {
        await proxy?.close();
      });

      it('retries 503 SlowDown with backoff until the store takes the parts', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'slow/', partSizeBytes: PART, queueSize: 2, maxAttempts: 5 }));
        proxy.failNext('UploadPart', 3);
        proxy.failNext('CompleteMultipartUpload', 1);
        const bytes = randomBytes(3 * PART + 5);
        const result = await store.put('archive.zip', Readable.from([bytes]));
        expect(result).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
        expect(proxy.refused).toBe(4);
        expect(proxy.count('UploadPart')).toBe(4 + 3);
        expect(proxy.count('CompleteMultipartUpload')).toBe(2);
        expect(sha256(await readAll(await store.get('archive.zip')))).toBe(sha256(bytes));
      });

      it('gives up on a store that keeps throttling, says so, and leaves no multipart upload', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'throttled/', partSizeBytes: PART, queueSize: 1, maxAttempts: 2 }));
        proxy.failNext('UploadPart', 100);
        const error = await store.put('archive.zip', Readable.from([randomBytes(2 * PART)])).catch((e: unknown) => e);
        expect(error).toMatchObject({ reason: 'throttled', transient: true });
        expect((error as Error).message).toContain('SlowDown');
        expect(proxy.count('AbortMultipartUpload')).toBe(1);
        expect(await buckets.uploads(plain, 'throttled/')).toEqual([]);
        expect(await store.head('archive.zip')).toBeUndefined();
      });

      it('fails a put whose connections keep breaking with a readable error, and leaves no multipart upload', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'broken/', partSizeBytes: PART, queueSize: 1, maxAttempts: 2 }));
        proxy.failNext('UploadPart', 100, 0);
        const error = await store.put('archive.zip', Readable.from([randomBytes(2 * PART)])).catch((e: unknown) => e);
        expect(error).toMatchObject({ reason: 'network', transient: true });
        expect((error as Error).message).toMatch(/^Could not write "archive.zip" \(s3:\/\//);
        expect(await buckets.uploads(plain, 'broken/')).toEqual([]);
        expect(await store.head('archive.zip')).toBeUndefined();
      });

      it('never retries a 4xx that will not change (a wrong secret: one request)', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'denied/', maxAttempts: 5 }), {
          accessKeyId: env.credentials.accessKeyId,
          secretAccessKey: 'not-the-secret',
        });
        await expect(store.put('x', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ reason: 'credentials' });
        expect(proxy.count('PutObject')).toBe(1);
      });

      it("falls back to reading the copy back when the store's ETag is not the MD5 sent", async () => {
        proxy.reset();
        proxy.rewriteHeadEtag('0123456789abcdef0123456789abcdef');
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'etag/' }));
        const bytes = randomBytes(4000);
        expect(await store.put('x', Readable.from([bytes]))).toMatchObject({ verifiedBy: 'read-back', sha256: sha256(bytes) });
        expect(proxy.count('GetObject')).toBe(1);
      });

      it('reports a download cut midway as a network error; a Range read resumes it', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'cut/' }));
        const bytes = randomBytes(3 * MiB);
        await store.put('archive.zip', Readable.from([bytes]));
        proxy.cutGetObjectAfter(MiB);
        const chunks: Buffer[] = [];
        const error = await (async () => {
          for await (const chunk of await store.get('archive.zip')) chunks.push(chunk as Buffer);
        })().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RepositoryStoreError);
        expect(error).toMatchObject({ reason: 'network' });
        expect((error as Error).message).toContain('Could not read "archive.zip" to its end');
        const got = Buffer.concat(chunks);
        // What was in flight when the connection dropped may be lost; what arrived is a prefix of the object.
        expect(got.length).toBeGreaterThan(0);
        expect(got.length).toBeLessThanOrEqual(MiB);
        proxy.cutGetObjectAfter(undefined);
        const rest = await readAll(await store.get('archive.zip', { start: got.length }));
        expect(sha256(Buffer.concat([got, rest]))).toBe(sha256(bytes));
      });

      it('lists page by page (ListObjectsV2 continuation)', async () => {
        proxy.reset();
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'pages/' }));
        await Promise.all(Array.from({ length: 12 }, (_, i) => store.put(`p/${i}`, Readable.from([Buffer.from(String(i))]))));
        const keys: string[] = [];
        for await (const item of store.list('p', { pageSize: 5 })) keys.push(item.key);
        expect(keys.length).toBe(12);
        expect(proxy.count('ListObjectsV2')).toBe(3);
      });

      it("probe: reports this machine's clock against the store's", async () => {
        proxy.reset();
        proxy.shiftDate(2 * 3_600_000);
        const store = open(testConfig({ ...env, endpoint: proxy.url }, plain, { prefix: 'clock/', maxAttempts: 2 }));
        const result = await store.probe();
        expect(result.ok).toBe(false);
        expect(stepOf(result, 'clock')).toMatchObject({ ok: false, message: expect.stringContaining('2 hours behind the store') });
        expect(result.steps.map((s) => s.message).join(' ')).toMatch(/clock/);
      });
    });

    describe('probe answers', () => {
      it('a good configuration: every step ok', async () => {
        const result = await open(testConfig(env, plain, { prefix: 'probe/' })).probe();
        expect(result.ok).toBe(true);
        expect(result.steps.map((s) => s.step)).toEqual(['bucket', 'write', 'read', 'delete']);
        expect(await buckets.versions(plain, 'probe/')).toEqual([]);
      });

      it('a wrong secret', async () => {
        const result = await open(testConfig(env, plain), { ...env.credentials, secretAccessKey: 'wrong-secret-value' }).probe();
        expect(result).toMatchObject({ ok: false, steps: [{ step: 'bucket', ok: false }] });
        expect(result.steps[0]!.message).toContain('secret access key does not match');
        expect(JSON.stringify(result)).not.toContain('wrong-secret-value');
      });

      it('an unknown access key id', async () => {
        const result = await open(testConfig(env, plain), { accessKeyId: 'nobody-has-this-key', secretAccessKey: 'x' }).probe();
        expect(result.steps[0]!.message).toContain('does not know the access key id');
      });

      it('a bucket that does not exist', async () => {
        const result = await open(testConfig(env, 'appvault-no-such-bucket-here')).probe();
        expect(result).toMatchObject({ ok: false, steps: [{ step: 'bucket', ok: false }] });
        expect(result.steps[0]!.message).toContain('"appvault-no-such-bucket-here" does not exist');
      });

      it('an endpoint nothing listens on', async () => {
        const result = await open(testConfig(env, plain, { endpoint: 'http://127.0.0.1:1', maxAttempts: 1 })).probe();
        expect(result.steps[0]!.message).toContain('connection refused');
      });

      it('an endpoint whose host name does not resolve', async () => {
        const result = await open(testConfig(env, plain, { endpoint: 'http://no-such-host.invalid:7480', maxAttempts: 1 })).probe();
        expect(result.steps[0]!.message).toContain('cannot be resolved');
      });

      it.skipIf(s3TestEnv !== undefined && !s3TestEnv.endpoint.startsWith('http://'))('https:// to a plain-HTTP port', async () => {
        const url = new URL(env.endpoint);
        url.protocol = 'https:';
        const result = await open(testConfig(env, plain, { endpoint: url.origin, maxAttempts: 1 })).probe();
        expect(result.steps[0]).toMatchObject({ ok: false, message: expect.stringContaining('does not speak TLS') });
      });

      it('Object Lock required but not enabled on the bucket', async () => {
        const result = await open(testConfig(env, plain, { objectLock: { mode: 'COMPLIANCE', days: 30 } })).probe();
        expect(result.ok).toBe(false);
        expect(stepOf(result, 'object-lock')).toMatchObject({ ok: false, message: expect.stringContaining('does not have Object Lock enabled') });
        expect(stepOf(result, 'write')).toBeUndefined();
      });

      it('a key that may write and read but not delete', async () => {
        const bucket = await buckets.create('nodelete');
        const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }] };
        await buckets.client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
        const result = await open(testConfig(env, bucket)).probe();
        expect(result.ok).toBe(false);
        expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
          ['bucket', true],
          ['write', true],
          ['read', true],
          ['delete', false],
        ]);
        expect(stepOf(result, 'delete')!.message).toContain('may write and read but not delete (AccessDenied on DeleteObject)');
      });
    });

    it('presigns a download URL that works without credentials, Range included', async () => {
      const store = open(testConfig(env, plain, { prefix: 'presign/' }));
      const bytes = randomBytes(10_000);
      await store.put('file.zip', Readable.from([bytes]));
      const url = await store.presign('file.zip', 300);
      expect(url).not.toContain(env.credentials.secretAccessKey);
      const whole = await fetch(url);
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
      const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
      await expect(store.presign('file.zip', 8 * 24 * 3600)).rejects.toMatchObject({ reason: 'config' });
    });
  });
}
