import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, it } from 'vitest';
import { type S3RepositoryConfig, s3RepositoryConfigSchema } from '../../src/infrastructure/repository-store/s3-repository-config.js';

/**
 * The S3 server the S3 suites run against: S3_TEST_ENDPOINT (with S3_TEST_ACCESS_KEY,
 * S3_TEST_SECRET_KEY, S3_TEST_REGION). `.ci/run` starts radosgw and sets them; on a developer's
 * machine `scripts/ceph-s3.sh start DIR` does the same.
 */
export const s3TestEnv = (() => {
  const endpoint = process.env['S3_TEST_ENDPOINT']?.trim();
  if (!endpoint) return undefined;
  return {
    endpoint,
    region: process.env['S3_TEST_REGION']?.trim() || 'us-east-1',
    credentials: { accessKeyId: process.env['S3_TEST_ACCESS_KEY'] ?? 'ciaccesskey', secretAccessKey: process.env['S3_TEST_SECRET_KEY'] ?? 'cisecretkey' },
  };
})();

export type S3TestEnv = NonNullable<typeof s3TestEnv>;

/** With CI=true the S3 suites must run (.ci/run starts radosgw); elsewhere they skip without S3_TEST_ENDPOINT. */
export const inCi = ['true', '1'].includes((process.env['CI'] ?? '').toLowerCase());

/**
 * `describe` for a suite that needs the S3 test server: without S3_TEST_ENDPOINT it is skipped
 * with a SKIP line, except with CI=true, where it runs and fails (requiredS3TestEnv) rather than
 * pass unseen.
 */
export function describeOnS3(title: string, body: () => void): void {
  if (s3TestEnv || inCi) {
    describe(title, body);
    return;
  }
  console.log(`SKIP ${title}: S3_TEST_ENDPOINT is not set (scripts/ceph-s3.sh start /tmp/ceph-s3, then S3_TEST_ENDPOINT=http://127.0.0.1:7480 S3_TEST_ACCESS_KEY=ciaccesskey S3_TEST_SECRET_KEY=cisecretkey)`);
  describe.skip(`${title} (needs S3_TEST_ENDPOINT)`, () => {
    it('runs against an S3-compatible server', () => undefined);
  });
}

/** The S3 test server, or the error a suite that must run (CI) fails with when there is none. */
export function requiredS3TestEnv(): S3TestEnv {
  if (!s3TestEnv) throw new Error('S3_TEST_ENDPOINT is not set: with CI=true the S3 suites must run against a server (.ci/run starts radosgw), not skip');
  return s3TestEnv;
}

/** A repository config for the test server, defaults filled in as an admin's would be. */
export function testConfig(env: S3TestEnv, bucket: string, overrides: Record<string, unknown> = {}): S3RepositoryConfig {
  return s3RepositoryConfigSchema.parse({ endpoint: env.endpoint, region: env.region, bucket, maxAttempts: 4, ...overrides });
}

/**
 * The operator's own view of the server, with the SDK as anyone would use it: makes and removes
 * the suites' buckets and looks at what a put left behind (multipart uploads, versions).
 */
export class S3TestBuckets {
  readonly client: S3Client;
  private readonly made: string[] = [];

  constructor(readonly env: S3TestEnv) {
    this.client = new S3Client({
      endpoint: env.endpoint,
      region: env.region,
      forcePathStyle: true,
      credentials: env.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** A bucket named for this run, removed by `removeAll`. */
  async create(label: string, objectLock = false): Promise<string> {
    const name = `appvault-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    await this.client.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: objectLock || undefined }));
    this.made.push(name);
    return name;
  }

  async uploads(bucket: string, prefix: string): Promise<{ key: string; uploadId: string }[]> {
    const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (page.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
  }

  /** Bytes of `key` in completed parts of its unfinished multipart uploads. */
  async partBytes(bucket: string, key: string): Promise<number> {
    let total = 0;
    for (const upload of await this.uploads(bucket, key)) {
      if (upload.key !== key) continue;
      const parts = await this.client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }));
      total += (parts.Parts ?? []).reduce((sum, p) => sum + (p.Size ?? 0), 0);
    }
    return total;
  }

  async abandonUpload(bucket: string, key: string): Promise<void> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await this.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
  }

  async versions(bucket: string, prefix: string): Promise<{ key: string; versionId: string; deleteMarker: boolean }[]> {
    const page = await this.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    return [
      ...(page.Versions ?? []).map((v) => ({ key: v.Key!, versionId: v.VersionId!, deleteMarker: false })),
      ...(page.DeleteMarkers ?? []).map((v) => ({ key: v.Key!, versionId: v.VersionId!, deleteMarker: true })),
    ];
  }

  /**
   * Empties and removes every bucket made here. GOVERNANCE locks are lifted as an operator may
   * (bypass); a COMPLIANCE lock nobody can lift, so versions under one are retried until it ends
   * (the suites lock those for seconds only).
   */
  async removeAll(): Promise<void> {
    for (const bucket of this.made) {
      await this.client.send(new DeleteBucketPolicyCommand({ Bucket: bucket })).catch(() => undefined);
      for (const upload of await this.uploads(bucket, '').catch(() => [])) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId })).catch(() => undefined);
      }
      for (let round = 0; round < 120; round += 1) {
        const left = await this.versions(bucket, '');
        if (left.length === 0) break;
        for (const v of left) {
          await this.client
            .send(new DeleteObjectCommand({ Bucket: bucket, Key: v.key, VersionId: v.versionId, BypassGovernanceRetention: true }))
            .catch(() => undefined);
        }
        if ((await this.versions(bucket, '')).length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
    this.client.destroy();
  }
}
