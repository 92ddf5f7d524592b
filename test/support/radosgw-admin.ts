import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * radosgw's admin tool on the S3 test server's cluster, for what only the store's operator can do
 * (a bucket quota). S3_TEST_CEPH_CONF names the cluster's ceph.conf: .ci/run exports it for the
 * cluster scripts/ceph-s3.sh starts, which prints it too.
 */
export class RadosgwAdmin {
  private constructor(private readonly conf: string) {}

  /** The tool on the test server's cluster, or why it cannot be used here. */
  static async connect(): Promise<RadosgwAdmin | { unavailable: string }> {
    const conf = process.env['S3_TEST_CEPH_CONF']?.trim();
    if (!conf) return { unavailable: 'S3_TEST_CEPH_CONF (the ceph.conf of the cluster behind S3_TEST_ENDPOINT) is not set' };
    const admin = new RadosgwAdmin(conf);
    try {
      await admin.run('user', 'list');
    } catch (error) {
      return { unavailable: `radosgw-admin -c ${conf} cannot reach the cluster: ${(error as Error).message.split('\n')[0]}` };
    }
    return admin;
  }

  /** Caps what `bucket` may hold at `maxBytes`, as an operator's quota does: the store then refuses writes beyond it. */
  async setBucketQuota(bucket: string, maxBytes: number): Promise<void> {
    await this.run('quota', 'set', '--quota-scope=bucket', `--bucket=${bucket}`, `--max-size=${maxBytes}`);
    await this.run('quota', 'enable', '--quota-scope=bucket', `--bucket=${bucket}`);
  }

  private async run(...args: string[]): Promise<string> {
    const { stdout } = await run('radosgw-admin', ['-c', this.conf, ...args], { timeout: 60_000 });
    return stdout;
  }
}
