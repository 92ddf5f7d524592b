import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PartDigests } from '../../src/infrastructure/repository-store/part-digests.transform.js';
import { resolveRange } from '../../src/infrastructure/repository-store/repository-store.port.js';
import { resolveS3Credentials, s3RepositoryConfigSchema } from '../../src/infrastructure/repository-store/s3-repository-config.js';
import { MAX_PARTS, partSizeFor } from '../../src/infrastructure/repository-store/s3-part-uploader.js';
import { S3RepositoryStore } from '../../src/infrastructure/repository-store/s3-repository-store.adapter.js';
import { tempDir } from '../support/test-server.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const sha = (b: Buffer) => createHash('sha256').update(b).digest();

describe('S3 repository config', () => {
  it('fills in defaults: path-style for an endpoint of its own, virtual-host for AWS', () => {
    const own = s3RepositoryConfigSchema.parse({ endpoint: 'https://s3.example.com', bucket: 'backups', prefix: 'appvault' });
    expect(own).toMatchObject({ region: 'us-east-1', prefix: 'appvault/', forcePathStyle: true, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, readBackVerify: false });
    expect(s3RepositoryConfigSchema.parse({ bucket: 'backups', region: 'eu-west-1' })).toMatchObject({ forcePathStyle: false, prefix: '' });
    expect(s3RepositoryConfigSchema.parse({ endpoint: 'http://ceph:7480', bucket: 'b-1', forcePathStyle: false }).forcePathStyle).toBe(false);
  });

  it('refuses wrong values with messages naming the field', () => {
    const problems = (input: Record<string, unknown>) => {
      const result = s3RepositoryConfigSchema.safeParse({ bucket: 'backups', ...input });
      return result.success ? [] : result.error.issues.map((i) => i.message);
    };
    expect(problems({ bucket: 'Has_Capitals' })[0]).toContain('bucket must be an S3 bucket name');
    expect(problems({ bucket: '192.168.1.1' })[0]).toContain('bucket must be');
    expect(problems({ endpoint: 'ftp://x' })[0]).toContain('endpoint must be an http:// or https:// URL');
    expect(problems({ endpoint: 'https://key:secret@s3.example.com' })[0]).toContain('without credentials');
    expect(problems({ prefix: '../escape' })[0]).toMatch(/^prefix is invalid/);
    expect(problems({ partSizeBytes: 1024 })[0]).toContain('at least 5 MiB');
    expect(problems({ objectLock: { mode: 'FOREVER', days: 1 } })[0]).toContain('GOVERNANCE or COMPLIANCE');
    expect(problems({ objectLock: { mode: 'COMPLIANCE', days: 0 } })[0]).toContain('at least 1');
    expect(problems({ storageClass: 'glacier' })[0]).toContain('storageClass');
    expect(problems({ secretAccessKey: 'x' }).length).toBe(1);
  });
});

describe('S3 credentials', () => {
  it('reads them from the environment variables named, and says which one is missing', async () => {
    const source = { accessKeyIdEnv: 'REPO_KEY', secretAccessKeyEnv: 'REPO_SECRET' };
    expect(await resolveS3Credentials(source, { REPO_KEY: 'AKIAEXAMPLE', REPO_SECRET: 'top-secret\n' })).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'top-secret' });
    await expect(resolveS3Credentials(source, { REPO_KEY: 'AKIAEXAMPLE' })).rejects.toThrow('REPO_SECRET (the S3 secret access key) is not set');
    await expect(resolveS3Credentials({ accessKeyIdEnv: 'BAD NAME', secretAccessKeyEnv: 'X' }, {})).rejects.toMatchObject({ reason: 'config' });
  });

  it('reads them from a secrets file, and never echoes a malformed one', async () => {
    const dir = tempDir('appvault-secrets-');
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'file-secret' }), { mode: 0o600 });
    expect(await resolveS3Credentials({ secretsFile: good })).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'file-secret' });
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, 'accessKeyId=AKIA secretAccessKey=leaked-secret-value');
    const notJson = (await resolveS3Credentials({ secretsFile: broken }).catch((e: unknown) => e)) as Error;
    expect(notJson.message).toContain('is not JSON');
    expect(notJson.message).not.toContain('leaked');
    const partial = join(dir, 'partial.json');
    writeFileSync(partial, JSON.stringify({ accessKeyId: 'AKIA', secretAccessKey: 42, note: 'leaked-secret-value' }));
    const wrongShape = (await resolveS3Credentials({ secretsFile: partial }).catch((e: unknown) => e)) as Error;
    expect(wrongShape.message).toContain('wrong or missing: secretAccessKey');
    expect(wrongShape.message).not.toContain('leaked');
    await expect(resolveS3Credentials({ secretsFile: join(dir, 'absent.json') })).rejects.toThrow('(ENOENT)');
  });

  it('keeps the secret out of what the adapter shows of itself', () => {
    const store = new S3RepositoryStore(s3RepositoryConfigSchema.parse({ endpoint: 'http://127.0.0.1:1', bucket: 'backups' }), {
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'never-show-this-secret',
    });
    expect(inspect(store, { depth: 6 })).not.toContain('never-show-this-secret');
    expect(JSON.stringify({ location: store.location, capabilities: store.capabilities })).not.toContain('never-show-this-secret');
    void store.close();
  });
});

describe('PartDigests', () => {
  const run = async (bytes: Buffer, partSize: number, chunk = 7777) => {
    const digests = new PartDigests('k', partSize);
    const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
    for await (const _ of Readable.from(chunks).pipe(digests)) void _;
    return digests;
  };

  it('cuts parts where the uploader does and gives the ETag and composite checksum S3 computes', async () => {
    const bytes = randomBytes(25_000);
    const digests = await run(bytes, 10_000);
    const parts = [bytes.subarray(0, 10_000), bytes.subarray(10_000, 20_000), bytes.subarray(20_000)];
    expect(digests.count).toBe(3);
    parts.forEach((p, i) => expect(digests.part(i + 1)).toEqual({ md5: md5(p), sha256: sha(p) }));
    expect(digests.expectedEtag()).toBe(`${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-3`);
    expect(digests.expectedCompositeSha256()).toBe(`${createHash('sha256').update(Buffer.concat(parts.map(sha))).digest('base64')}-3`);
    expect(digests.result()).toEqual({ size: 25_000, sha256: sha(bytes).toString('hex') });
  });

  it('makes one part of an object of at most one part, and of an empty one', async () => {
    const exact = randomBytes(10_000);
    const one = await run(exact, 10_000);
    expect(one.count).toBe(1);
    expect(one.expectedEtag()).toBe(md5(exact).toString('hex'));
    expect(one.expectedCompositeSha256()).toBe(sha(exact).toString('base64'));
    const empty = await run(Buffer.alloc(0), 10_000);
    expect(empty.count).toBe(1);
    expect(empty.expectedEtag()).toBe(md5(Buffer.alloc(0)).toString('hex'));
    expect((await run(randomBytes(20_000), 10_000)).count).toBe(2);
  });

  it('fails at the end of the stream when the bytes are not the SHA-256 expected', async () => {
    const digests = new PartDigests('backups/1.zip', 10_000, '0'.repeat(64));
    const error = await (async () => {
      for await (const _ of Readable.from([Buffer.from('abc')]).pipe(digests)) void _;
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'integrity', key: 'backups/1.zip' });
  });
});

describe('partSizeFor', () => {
  const MiB = 1024 * 1024;

  it("keeps the repository's part size when its 10,000 parts hold the object, or the size is not known", () => {
    expect(partSizeFor(5 * MiB, undefined)).toBe(5 * MiB);
    expect(partSizeFor(5 * MiB, 0)).toBe(5 * MiB);
    expect(partSizeFor(5 * MiB, 5 * MiB * MAX_PARTS)).toBe(5 * MiB);
    expect(partSizeFor(8 * MiB, 60 * 1024 * MiB)).toBe(8 * MiB);
  });

  it('grows parts to the least whole MiB that fits a larger object in 10,000 parts', () => {
    expect(partSizeFor(5 * MiB, 5 * MiB * MAX_PARTS + 1)).toBe(6 * MiB);
    const hundredGiB = 100 * 1024 * MiB;
    const grown = partSizeFor(5 * MiB, hundredGiB);
    expect(grown).toBe(11 * MiB);
    expect(Math.ceil(hundredGiB / grown)).toBeLessThanOrEqual(MAX_PARTS);
    expect(Math.ceil(hundredGiB / (grown - MiB))).toBeGreaterThan(MAX_PARTS);
  });
});

describe('resolveRange', () => {
  it('turns ranges into inclusive bounds within the size, or undefined past the end', () => {
    expect(resolveRange({ start: 0, end: 9 }, 100)).toEqual({ start: 0, end: 9 });
    expect(resolveRange({ start: 90 }, 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange({ start: 90, end: 500 }, 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange({ suffix: 10 }, 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange({ suffix: 1000 }, 100)).toEqual({ start: 0, end: 99 });
    expect(resolveRange({ start: 100 }, 100)).toBeUndefined();
    expect(resolveRange({ start: 5, end: 4 }, 100)).toBeUndefined();
    expect(resolveRange({ suffix: 0 }, 100)).toBeUndefined();
    expect(resolveRange({ suffix: 5 }, 0)).toBeUndefined();
    expect(resolveRange({ start: -1 }, 100)).toBeUndefined();
  });
});
