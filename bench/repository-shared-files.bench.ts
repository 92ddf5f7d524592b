/**
 * What a second backup to an S3 repository writes when few file versions are new: copies with
 * shared files (the default) against copies held whole (REPOSITORY_SHARED_FILE_MIN_BYTES=0).
 *
 * 1. Grows app "big" with the mix workload (BENCH_EVENTS events, 20,000 by default) with asset
 *    bytes scaled by BENCH_ASSET_SCALE (8: 16-320 KB per file version, a media-heavy app).
 * 2. With the built server (`node dist/main.js`) and shared files: a first backup to the bucket
 *    (every file written once), then BENCH_NEW_FILES (3) new files of 256 KB and an edit, then a
 *    second backup. The bytes it wrote are the objects new or replaced in the bucket.
 * 3. The same server restarted with REPOSITORY_SHARED_FILE_MIN_BYTES=0: a backup of the same state
 *    to another prefix, written whole.
 * 4. Each second backup downloaded from its copy (the archive put back together, every file
 *    checked, against the archive read as one object).
 *
 * Needs S3_TEST_ENDPOINT (scripts/ceph-s3.sh); without it prints SKIP and exits 0.
 *
 *   BENCH_EVENTS=50000 node dist-bench/bench/repository-shared-files.bench.js
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { FilesystemBlobStore } from '../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { api, type BenchServer, runJob, spawnServer, stopServer, TOKEN, waitReady } from './support/bench-server.js';
import { round } from './support/latency-probe.js';
import { claimAppNames, growApps } from './workloads/mix.workload.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const ASSET_SCALE = Number(process.env['BENCH_ASSET_SCALE'] ?? 8);
const NEW_FILES = Number(process.env['BENCH_NEW_FILES'] ?? 3);
const MB = 1024 * 1024;

const endpoint = process.env['S3_TEST_ENDPOINT']?.trim();
const region = process.env['S3_TEST_REGION']?.trim() || 'us-east-1';
const credentials = { accessKeyId: process.env['S3_TEST_ACCESS_KEY'] ?? 'ciaccesskey', secretAccessKey: process.env['S3_TEST_SECRET_KEY'] ?? 'cisecretkey' };

type Listing = Map<string, { size: number; etag: string }>;

async function listAll(client: S3Client, bucket: string, prefix: string): Promise<Listing> {
  const objects: Listing = new Map();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) objects.set(object.Key!, { size: object.Size ?? 0, etag: object.ETag ?? '' });
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

/** Bytes of the objects that are new, or another version, in `after`. */
function written(before: Listing, after: Listing): { bytes: number; objects: number } {
  let bytes = 0;
  let objects = 0;
  for (const [key, object] of after) {
    const was = before.get(key);
    if (was && was.etag === object.etag) continue;
    bytes += object.size;
    objects += 1;
  }
  return { bytes, objects };
}

async function backUp(server: BenchServer, repository: string): Promise<{ id: string; ms: number; sizeBytes: number; sha256: string }> {
  const started = await api(server.base, 'POST', '/api/apps/big/backups', { repositories: [repository] });
  const { ms, job } = await runJob(server.base, server.pid, `/api/backups/${started['id'] as string}`);
  return { id: job['id'] as string, ms, sizeBytes: job['sizeBytes'] as number, sha256: job['sha256'] as string };
}

async function download(server: BenchServer, id: string, sha256: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${server.base}/api/backups/${id}/archive`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const hash = createHash('sha256');
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  if (hash.digest('hex') !== sha256) throw new Error(`The download of backup ${id} is not its archive`);
  return performance.now() - started;
}

async function addFiles(server: BenchServer, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(randomBytes(256 * 1024))], { type: 'image/jpeg' }), `new-${i}.jpg`);
    const res = await fetch(`${server.base}/api/apps/big/assets`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form });
    if (res.status !== 201) throw new Error(`Uploading a file answered ${res.status}`);
  }
}

async function main(): Promise<void> {
  if (!endpoint) {
    console.log('SKIP repository-shared-files: S3_TEST_ENDPOINT is not set (scripts/ceph-s3.sh start /tmp/ceph-s3)');
    return;
  }
  // A copy: the SDK marks the credentials object it is given.
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { ...credentials } });
  const bucket = `appvault-bench-shared-${Date.now().toString(36)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const dataDir = mkdtempSync(join(tmpdir(), 'appvault-bench-'));
  try {
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    const blobs = new FilesystemBlobStore(join(dataDir, 'blobs'));
    const [app] = await growApps(store, blobs, { events: EVENTS, apps: ['big'], shape: 'mix', assetScale: ASSET_SCALE });
    await store.close();
    await claimAppNames(join(dataDir, 'claims.db'), [app!]);
    console.log(`app "big": ${app!.events} events, ${app!.assetVersions} file versions, ${round(app!.assetBytes / MB)} MiB of files`);
    const s3 = (prefix: string) => ({ type: 's3', s3: { endpoint, region, bucket, prefix, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } });

    let server = await spawnServer(dataDir);
    let shared: { first: Awaited<ReturnType<typeof backUp>>; second: Awaited<ReturnType<typeof backUp>>; firstBytes: number; secondBytes: number; secondObjects: number; readMs: number };
    try {
      await waitReady(server);
      await api(server.base, 'POST', '/api/repositories', { name: 'shared', ...s3('shared') });
      await api(server.base, 'POST', '/api/repositories', { name: 'whole', ...s3('whole') });
      const empty = await listAll(client, bucket, 'shared/');
      const first = await backUp(server, 'shared');
      const afterFirst = await listAll(client, bucket, 'shared/');
      await addFiles(server, NEW_FILES);
      await api(server.base, 'PUT', '/api/apps/big', { label: 'after a day' });
      const second = await backUp(server, 'shared');
      const afterSecond = await listAll(client, bucket, 'shared/');
      const secondWrite = written(afterFirst, afterSecond);
      const readMs = await download(server, second.id, second.sha256);
      shared = { first, second, firstBytes: written(empty, afterFirst).bytes, secondBytes: secondWrite.bytes, secondObjects: secondWrite.objects, readMs };
    } finally {
      await stopServer(server);
    }

    server = await spawnServer(dataDir, { REPOSITORY_SHARED_FILE_MIN_BYTES: '0' });
    let whole: { backup: Awaited<ReturnType<typeof backUp>>; bytes: number; readMs: number };
    try {
      await waitReady(server);
      const before = await listAll(client, bucket, 'whole/');
      const backup = await backUp(server, 'whole');
      const bytes = written(before, await listAll(client, bucket, 'whole/')).bytes;
      whole = { backup, bytes, readMs: await download(server, backup.id, backup.sha256) };
    } finally {
      await stopServer(server);
    }

    const share = shared.secondBytes / whole.bytes;
    console.log(`archive of the second backup: ${round(shared.second.sizeBytes / MB)} MiB (whole copy: ${round(whole.backup.sizeBytes / MB)} MiB)`);
    console.log('| copy of the second backup | bytes written to the bucket | objects written | backup (archive + copy) | download from the copy |');
    console.log('|---|---:|---:|---:|---:|');
    console.log(`| whole (REPOSITORY_SHARED_FILE_MIN_BYTES=0) | ${round(whole.bytes / MB)} MiB | 2 | ${round(whole.backup.ms / 1000)} s | ${round(whole.readMs / 1000)} s |`);
    console.log(`| shared files (default) | ${round(shared.secondBytes / MB)} MiB (${round(share * 100)}%) | ${shared.secondObjects} | ${round(shared.second.ms / 1000)} s | ${round(shared.readMs / 1000)} s |`);
    console.log(`first backup with shared files: ${round(shared.firstBytes / MB)} MiB written, ${round(shared.first.ms / 1000)} s`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    for (const key of (await listAll(client, bucket, '')).keys()) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    client.destroy();
  }
}

await main();
