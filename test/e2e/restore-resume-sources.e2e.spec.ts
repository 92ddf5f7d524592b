import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { until, waitForJob } from '../support/fixtures.js';
import { growOffline } from '../support/grow.js';
import { addRepository, backUp, copyIn } from '../support/repositories.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { describeOnS3, requiredS3TestEnv, S3TestBuckets } from '../support/s3-test-buckets.js';
import { claimsOf, eventsOf, filesUnder, job, type Json, logOf, readModelsOf } from '../support/restore-state.js';
import { tempDir } from '../support/test-server.js';

/**
 * An archive served over HTTP as a plain file server would: an ETag, Range honoured when If-Range
 * still names the ETag (else the whole archive, 200). `stallAt` sends that many bytes and then
 * holds the connection open without sending more, so the restoring process can be killed in the
 * middle of its download without any timing.
 */
class ArchiveServer {
  readonly requests: { range: string | undefined; ifRange: string | undefined; status: number }[] = [];
  private bytes: Buffer = Buffer.alloc(0);
  private etag = '';
  private stallAt: number | null = null;
  private readonly held: ServerResponse[] = [];
  private readonly server: Server = createServer((req, res) => {
    const body = this.bytes;
    const range = req.headers.range;
    const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : undefined;
    const asked = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = asked && (ifRange === undefined || ifRange === this.etag) ? Number(asked[1]) : 0;
    const status = asked && start === Number(asked[1]) && start > 0 ? 206 : 200;
    if (start >= body.length && start > 0) {
      // Every byte is there already (a download that ended before its restore was stopped).
      this.requests.push({ range, ifRange, status: 416 });
      res.writeHead(416, { 'content-range': `bytes */${body.length}`, etag: this.etag }).end();
      return;
    }
    this.requests.push({ range, ifRange, status });
    res.writeHead(status, {
      etag: this.etag,
      'content-type': 'application/zip',
      'content-length': String(body.length - start),
      'accept-ranges': 'bytes',
      ...(status === 206 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (this.stallAt !== null && this.stallAt > start) {
      res.write(body.subarray(start, this.stallAt));
      this.held.push(res);
    } else {
      res.end(body.subarray(start));
    }
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/archive.zip`;
  }

  serve(bytes: Buffer, etag: string, stallAt: number | null): void {
    this.bytes = bytes;
    this.etag = etag;
    this.stallAt = stallAt;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Every file under `dir` (recursively). */
function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const tempFilesOf = (dataDir: string, id: string) => allFiles(join(dataDir, 'tmp')).filter((file) => file.includes(id));

describe('restores from a URL and of encrypted archives resume after the server was killed (real processes, a real HTTP server)', () => {
  let server: ChildServer | undefined;
  let web: ArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await web?.close();
    web = undefined;
  });

  /** Restarts the server (resumes are asked for by the test) and checks the restore waits, Interrupted, for a resume. */
  const restart = async (dataDir: string, id: string): Promise<void> => {
    server = await startChildServer(dataDir, { RESTORE_ALLOWED_HOSTS: '127.0.0.1', RESUME_RESTORES_AT_STARTUP: 'false' });
    const interrupted = await job(server, id);
    expect(interrupted['status'], JSON.stringify(interrupted['log'])).toBe('Interrupted');
  };
  const resume = async (id: string, body: Json = {}): Promise<Json> => {
    const asked = await server!.admin.post(`/api/restore/${id}/resume`, body);
    expect(asked.status, JSON.stringify(asked.body)).toBeLessThan(300);
    return waitForJob(server!.admin, `/api/restore/${id}`, 240_000);
  };
  /** Starts a restore from the archive server and kills the server once `half` bytes of it are on disk. */
  const killMidDownload = async (dataDir: string, body: Json, half: number): Promise<string> => {
    const started = await server!.admin.post('/api/restore', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    const partial = join(dataDir, 'tmp', `restore-${id}.zip`);
    await until(async () => (existsSync(partial) && statSync(partial).size === half ? true : undefined), `the download to reach byte ${half}`, 120_000, 5);
    expect((await job(server!, id))['status']).toBe('Running');
    await server!.kill();
    return id;
  };

  it('a URL download killed half way asks only for the rest (Range, If-Range) and restores what an uninterrupted restore does; an archive changed meanwhile is refused', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 6000, apps: ['shop'] });
    server = await startChildServer(dataDir, { RESTORE_ALLOWED_HOSTS: '127.0.0.1', RESUME_RESTORES_AT_STARTUP: 'false' });
    const backupOf = async () => {
      const backup = await server!.admin.post('/api/apps/shop/backups', {});
      expect((await waitForJob(server!.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
      const archive = await server!.admin.bytes(`/api/backups/${backup.body.id}/archive`);
      expect(archive.status).toBe(200);
      return { id: backup.body.id as string, bytes: Buffer.from(archive.bytes) };
    };
    const first = await backupOf();
    const whole = await server.admin.post('/api/restore', { backupId: first.id, name: 'whole' });
    const reference = await waitForJob(server.admin, `/api/restore/${whole.body.id}`, 240_000);
    expect(reference['status'], JSON.stringify(reference['log'])).toBe('Completed');

    web = new ArchiveServer();
    const url = await web.listen();
    const half = Math.floor(first.bytes.length / 2);
    web.serve(first.bytes, '"v1"', half);
    const id = await killMidDownload(dataDir, { url, name: 'resumed' }, half);
    await restart(dataDir, id);
    web.serve(first.bytes, '"v1"', null);
    const done = await resume(id);
    expect(done['status'], JSON.stringify(done['log'])).toBe('Completed');
    // The first process asked for the archive, the second only for what it lacked.
    expect(web.requests).toEqual([
      { range: undefined, ifRange: undefined, status: 200 },
      { range: `bytes=${half}-`, ifRange: '"v1"', status: 206 },
    ]);
    expect(logOf(done)).toContain(`Downloaded ${first.bytes.length} bytes, continuing from byte ${half} where the interrupted download stopped`);
    expect(readModelsOf(dataDir, done['appId'] as string, 'resumed')).toEqual(readModelsOf(dataDir, reference['appId'] as string, 'whole'));
    expect(tempFilesOf(dataDir, id)).toEqual([]);

    // The archive at the URL is replaced (another backup, another ETag) while the restore is stopped: the resume is refused.
    const second = await backupOf();
    web.requests.length = 0;
    web.serve(first.bytes, '"v1"', half);
    const changedId = await killMidDownload(dataDir, { url, name: 'changed' }, half);
    await restart(dataDir, changedId);
    web.serve(second.bytes, '"v2"', null);
    const refused = await resume(changedId);
    expect(refused['status']).toBe('Interrupted');
    expect(refused['error']).toMatch(/^The archive at .* changed since this restore began downloading it \(ETag "v2", was "v1"; \d+ bytes, was \d+\); a restore cannot continue from another archive$/);
    expect(web.requests).toEqual([
      { range: undefined, ifRange: undefined, status: 200 },
      { range: `bytes=${half}-`, ifRange: '"v1"', status: 200 },
    ]);
    expect((await server.admin.get('/api/apps/changed')).status).toBe(404);
    // Cancelled, nothing of it is left (its partial download included).
    expect((await server.admin.delete(`/api/restore/${changedId}`)).status).toBeLessThan(300);
    expect((await job(server, changedId))['status']).toBe('Failed');
    expect(tempFilesOf(dataDir, changedId)).toEqual([]);
  }, 600_000);

  it('an encrypted restore killed while writing events resumes from its decrypted copy (0600) without the key; one killed before decryption asks for the key again; the key is never on disk', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 6000, apps: ['shop'] });
    server = await startChildServer(dataDir, { RESTORE_ALLOWED_HOSTS: '127.0.0.1', RESUME_RESTORES_AT_STARTUP: 'false' });
    const { identity, recipient } = await generateKeyPair();
    expect((await server.admin.post('/api/recipients', { name: 'ops', recipient })).status).toBe(201);
    const backup = await server.admin.post('/api/apps/shop/backups', { encryption: { recipients: ['ops'] } });
    expect(backup.status, JSON.stringify(backup.body)).toBe(202);
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const whole = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'whole', identity });
    expect(whole.status, JSON.stringify(whole.body)).toBe(202);
    const reference = await waitForJob(server.admin, `/api/restore/${whole.body.id}`, 240_000);
    expect(reference['status'], JSON.stringify(reference['log'])).toBe('Completed');
    const expected = readModelsOf(dataDir, reference['appId'] as string, 'whole');

    // Killed in the events phase: the archive was decrypted, and that copy waits for the resume.
    const started = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'sealed', identity });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    await until(async () => (((await job(server!, id))['restoredEvents'] as number) >= 2000 ? true : undefined), 'the restore to write events', 120_000, 5);
    await server.kill();
    await restart(dataDir, id);
    const kept = tempFilesOf(dataDir, id);
    expect(kept.length).toBeGreaterThan(0);
    for (const file of kept) {
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
      expect(readFileSync(file).subarray(0, 2).toString('latin1'), `${file} is the decrypted zip`).toBe('PK');
    }
    const resumed = await resume(id);
    expect(resumed['status'], JSON.stringify(resumed['log'])).toBe('Completed');
    expect(logOf(resumed).some((line) => line.startsWith('Resuming after event'))).toBe(true);
    expect(readModelsOf(dataDir, resumed['appId'] as string, 'sealed')).toEqual(expected);
    expect(tempFilesOf(dataDir, id)).toEqual([]);

    // Killed while downloading the encrypted archive (from a URL): nothing was decrypted, so the resume needs the key again.
    const archive = await server.admin.bytes(`/api/backups/${backup.body.id}/archive`);
    expect(archive.status).toBe(200);
    web = new ArchiveServer();
    const url = await web.listen();
    const half = Math.floor(archive.bytes.length / 2);
    web.serve(Buffer.from(archive.bytes), '"sealed"', half);
    const urlId = await killMidDownload(dataDir, { url, name: 'sealed-url', identity }, half);
    await restart(dataDir, urlId);
    web.serve(Buffer.from(archive.bytes), '"sealed"', null);
    const keyless = await resume(urlId);
    expect(keyless['status'], JSON.stringify(keyless['log'])).toBe('Interrupted');
    expect(keyless['error']).toMatch(/^The archive is encrypted \(age\), and not to this installation: give the identity/);
    expect(logOf(keyless)).toContain(`Downloaded ${archive.bytes.length} bytes, continuing from byte ${half} where the interrupted download stopped`);
    expect((await server.admin.get('/api/apps/sealed-url')).status).toBe(404);
    web.requests.length = 0;
    const withKey = await resume(urlId, { identity });
    expect(withKey['status'], JSON.stringify(withKey['log'])).toBe('Completed');
    // The encrypted archive was kept for the resume that brought the key: nothing was downloaded again.
    expect(web.requests).toEqual([{ range: `bytes=${archive.bytes.length}-`, ifRange: '"sealed"', status: 416 }]);
    expect(readModelsOf(dataDir, withKey['appId'] as string, 'sealed-url')).toEqual(expected);
    expect(JSON.stringify([resumed, keyless, withKey])).not.toContain(identity);

    // The identity was in requests only: no file under DATA_DIR holds it (job records, logs, databases, their journals).
    await server.stop();
    server = undefined;
    const files = allFiles(dataDir);
    expect(files.length).toBeGreaterThan(5);
    const secret = identity.slice('AGE-SECRET-KEY-1'.length);
    for (const file of files) {
      const text = readFileSync(file).toString('latin1');
      expect(text.includes(secret) || text.includes(secret.toLowerCase()), `${file} holds the identity`).toBe(false);
    }
  }, 600_000);
});

describeOnS3('a restore from a copy in an S3 repository resumes its download after the server was killed (real processes, the S3 test server)', () => {
  let server: ChildServer | undefined;
  let proxy: S3FaultProxy | undefined;
  let buckets: S3TestBuckets | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await proxy?.close();
    await buckets?.removeAll();
  });

  /** A DATA_DIR with the shop app, its server, and repository `offsite` on a new bucket behind the fault proxy, holding the shop's only copy (the archive store lacks it). */
  const setUp = async (bucketName: string) => {
    const env = requiredS3TestEnv();
    buckets = new S3TestBuckets(env);
    const bucket = await buckets.create(bucketName);
    proxy = await S3FaultProxy.start(env.endpoint);
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 6000, apps: ['shop'] });
    const start = () => startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    server = await start();
    const { accessKeyId, secretAccessKey } = env.credentials;
    await addRepository(server.admin, { name: 'offsite', type: 's3', s3: { endpoint: proxy.url, region: env.region, bucket, accessKeyId, secretAccessKey } });
    const backup = await backUp(server.admin, server.admin, 'shop', { repositories: ['offsite'] });
    expect(backup.status, JSON.stringify(backup.warnings)).toBe('Completed');
    expect(backup.copies.map((copy) => copy.repository)).toEqual(['offsite']);
    return { bucket, dataDir, start, backup, copy: copyIn(backup, 'offsite'), half: Math.floor(backup.sizeBytes / 2) };
  };
  /** Starts a restore (`body`), kills the server once `half` bytes of the copy are on disk (the proxy holds the rest back) and starts another: answers the restore's id, Interrupted. */
  const killHalfWay = async ({ dataDir, start, half }: Awaited<ReturnType<typeof setUp>>, body: Json): Promise<string> => {
    proxy!.reset();
    proxy!.stallGetObjectAfter(half);
    const started = await server!.admin.post('/api/restore', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    const partial = join(dataDir, 'tmp', `restore-${id}.zip`);
    await until(async () => (existsSync(partial) && statSync(partial).size === half ? true : undefined), `the download to reach byte ${half}`, 120_000, 5);
    await server!.kill();
    proxy!.stallGetObjectAfter(undefined);
    server = await start();
    expect((await job(server, id))['status']).toBe('Interrupted');
    // The part downloaded is kept for the resume, private to the server, under DATA_DIR.
    expect(tempFilesOf(dataDir, id)).toEqual([partial]);
    expect(statSync(partial).mode & 0o777).toBe(0o600);
    expect(statSync(partial).size).toBe(half);
    return id;
  };
  /** Resumes the restore and checks that the second process read only the rest of the copy, conditional on the same ETag. */
  const resumeReadingTheRest = async ({ bucket, backup, copy, half }: Awaited<ReturnType<typeof setUp>>, id: string): Promise<Json> => {
    expect((await server!.admin.post(`/api/restore/${id}/resume`, {})).status).toBeLessThan(300);
    const done = await waitForJob(server!.admin, `/api/restore/${id}`, 240_000);
    expect(done['status'], JSON.stringify(done['log'])).toBe('Completed');
    const etag = (await buckets!.client.send(new HeadObjectCommand({ Bucket: bucket, Key: copy.key }))).ETag;
    expect(proxy!.gets.filter((get) => get.path.endsWith(copy.key)).map(({ range, ifMatch }) => ({ range, ifMatch }))).toEqual([
      { range: undefined, ifMatch: undefined },
      { range: `bytes=${half}-`, ifMatch: etag },
    ]);
    const log = logOf(done);
    expect(log).toContain(`Continuing the interrupted download of "${copy.key}" in repository "offsite" from byte ${half} of ${backup.sizeBytes}`);
    expect(log).toContain(`Read ${backup.sizeBytes} bytes, continuing from byte ${half} where the interrupted download stopped, SHA-256 as in the copy manifest`);
    return done;
  };

  it('the second process reads only the rest (Range, If-Match on the ETag) and restores what an uninterrupted restore does', async () => {
    const setup = await setUp('resume');
    const { dataDir, copy } = setup;
    const reference = await waitForJob(server!.admin, `/api/restore/${(await server!.admin.post('/api/restore', { repository: 'offsite', key: copy.key, name: 'whole' })).body.id}`, 240_000);
    expect(reference['status'], JSON.stringify(reference['log'])).toBe('Completed');

    const id = await killHalfWay(setup, { repository: 'offsite', key: copy.key, name: 'resumed' });
    const done = await resumeReadingTheRest(setup, id);
    expect(readModelsOf(dataDir, done['appId'] as string, 'resumed')).toEqual(readModelsOf(dataDir, reference['appId'] as string, 'whole'));
    expect(tempFilesOf(dataDir, id)).toEqual([]);
  }, 600_000);

  it('a restore by backup id whose archive is only in the repository resumes its download the same way; a copy replaced meanwhile is refused by name', async () => {
    const setup = await setUp('resume-id');
    const { bucket, dataDir, backup, copy } = setup;
    const whole = await server!.admin.post('/api/restore', { backupId: backup.id, name: 'whole' });
    expect(whole.status, JSON.stringify(whole.body)).toBe(202);
    const reference = await waitForJob(server!.admin, `/api/restore/${whole.body.id}`, 240_000);
    expect(reference['status'], JSON.stringify(reference['log'])).toBe('Completed');
    expect(logOf(reference)).toContain(`Copying backup ${backup.id} from its copy in repository "offsite"`);
    const referenceId = reference['appId'] as string;

    const id = await killHalfWay(setup, { backupId: backup.id, name: 'resumed' });
    const done = await resumeReadingTheRest(setup, id);
    const appId = done['appId'] as string;
    expect((await server!.admin.get('/api/apps/resumed')).status).toBe(200);
    // No event, claim or file doubled: the same history, read models and files as the uninterrupted restore.
    expect(await eventsOf(dataDir, appId, 'resumed')).toEqual(await eventsOf(dataDir, referenceId, 'whole'));
    expect(readModelsOf(dataDir, appId, 'resumed')).toEqual(readModelsOf(dataDir, referenceId, 'whole'));
    expect([...filesUnder(join(dataDir, 'blobs', 'assets', appId)).keys()].sort()).toEqual([...filesUnder(join(dataDir, 'blobs', 'assets', referenceId)).keys()].sort());
    expect(claimsOf(dataDir, 'resumed')).toEqual([{ state: 'committed', owner: appId }]);
    expect(tempFilesOf(dataDir, id)).toEqual([]);

    // The copy is replaced in the bucket (other bytes, another ETag) while a restore of it is stopped: its resume is refused, saying what changed.
    const etag = (await buckets!.client.send(new HeadObjectCommand({ Bucket: bucket, Key: copy.key }))).ETag;
    const changedId = await killHalfWay(setup, { backupId: backup.id, name: 'changed' });
    await buckets!.client.send(new PutObjectCommand({ Bucket: bucket, Key: copy.key, Body: Buffer.alloc(backup.sizeBytes, 7) }));
    const replaced = (await buckets!.client.send(new HeadObjectCommand({ Bucket: bucket, Key: copy.key }))).ETag!;
    expect(replaced).not.toBe(etag);
    expect((await server!.admin.post(`/api/restore/${changedId}/resume`, {})).status).toBeLessThan(300);
    const refused = await waitForJob(server!.admin, `/api/restore/${changedId}`, 240_000);
    expect(refused['status'], JSON.stringify(refused['log'])).toBe('Interrupted');
    const bare = (tag: string | undefined) => tag!.replaceAll('"', '');
    expect(refused['error']).toMatch(
      new RegExp(
        `^The archive at "${copy.key.replaceAll('.', '\\.')}" in repository "offsite" changed since this restore began reading it ` +
          `\\(ETag [^,]*${bare(replaced)}[^,]*, modified [^,]+, ${backup.sizeBytes} bytes, was ETag [^,]*${bare(etag)}[^,]*, modified [^,]+, ${backup.sizeBytes} bytes\\); a restore cannot continue from another archive$`,
      ),
    );
    expect((await server!.admin.get('/api/apps/changed')).status).toBe(404);
    // Cancelled, nothing of it is left, its partial download included.
    expect((await server!.admin.delete(`/api/restore/${changedId}`)).status).toBeLessThan(300);
    expect((await job(server!, changedId))['status']).toBe('Failed');
    expect(tempFilesOf(dataDir, changedId)).toEqual([]);
    expect(claimsOf(dataDir, 'changed')).toEqual([]);
  }, 600_000);
});

describe('a restore from a copy in a folder repository resumes its download after the server was killed (real processes, a real folder)', () => {
  let server: ChildServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('killed part way through reading the copy (as a repository source, and by backup id), it continues from the bytes on disk and restores what an uninterrupted restore does', async () => {
    const dataDir = tempDir();
    // Files of 40-800 KB: an archive of tens of MB, which takes a folder long enough to copy that a kill lands in the middle.
    await growOffline(dataDir, { events: 2000, apps: ['shop'], assetScale: 20 });
    const start = () => startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    server = await start();
    await addRepository(server.admin, { name: 'nas', type: 'filesystem', path: tempDir('appvault-nas-') });
    // Written to the folder only: the archive store lacks it, so a restore by id reads the copy too.
    const backup = await backUp(server.admin, server.admin, 'shop', { repositories: ['nas'] });
    expect(backup.status, JSON.stringify(backup.warnings)).toBe('Completed');
    expect(backup.copies.map((copy) => copy.repository)).toEqual(['nas']);
    const copy = copyIn(backup, 'nas');
    const total = backup.sizeBytes;
    const whole = await server.admin.post('/api/restore', { backupId: backup.id, name: 'whole' });
    expect(whole.status, JSON.stringify(whole.body)).toBe(202);
    const reference = await waitForJob(server.admin, `/api/restore/${whole.body.id}`, 240_000);
    expect(reference['status'], JSON.stringify(reference['log'])).toBe('Completed');
    const referenceId = reference['appId'] as string;

    /**
     * Starts a restore and SIGKILLs the server as soon as its download has put bytes on disk,
     * watched from here on the file itself (no hook in the server). A folder is read fast, so the
     * kill may come after the last byte: that try does not count (the partial file is measured
     * after the kill); its restore is cancelled and another started, at most five times, so the
     * test never passes without a kill in the middle of a download.
     */
    const killMidDownload = async (body: Json): Promise<{ id: string; at: number }> => {
      for (let attempt = 1; attempt <= 5; attempt++) {
        const started = await server!.admin.post('/api/restore', body);
        expect(started.status, JSON.stringify(started.body)).toBe(202);
        const id = started.body.id as string;
        const partial = join(dataDir, 'tmp', `restore-${id}.zip`);
        const onDisk = () => (existsSync(partial) ? statSync(partial).size : 0);
        const deadline = Date.now() + 120_000;
        while (onDisk() === 0) {
          if (Date.now() > deadline) throw new Error(`restore ${id} put no byte of the copy on disk in 120 s`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        await server!.kill();
        const at = onDisk();
        server = await start();
        const interrupted = await job(server, id);
        expect(interrupted['status'], JSON.stringify(interrupted['log'])).toBe('Interrupted');
        if (at > 0 && at < total) {
          // The part downloaded is kept for the resume, private to the server, under DATA_DIR.
          expect(tempFilesOf(dataDir, id)).toEqual([partial]);
          expect(statSync(partial).mode & 0o777).toBe(0o600);
          return { id, at };
        }
        expect((await server.admin.delete(`/api/restore/${id}`)).status).toBeLessThan(300);
        expect(tempFilesOf(dataDir, id)).toEqual([]);
      }
      throw new Error(`five restores in a row read the whole copy (${total} bytes) before the kill landed: grow a larger archive`);
    };

    for (const [name, body] of [
      ['from-copy', { repository: 'nas', key: copy.key }],
      ['from-backup', { backupId: backup.id }],
    ] as const) {
      const { id, at } = await killMidDownload({ ...body, name });
      expect((await server.admin.post(`/api/restore/${id}/resume`, {})).status).toBeLessThan(300);
      const done = await waitForJob(server.admin, `/api/restore/${id}`, 240_000);
      expect(done['status'], JSON.stringify(done['log'])).toBe('Completed');
      // The resumed run read the folder's copy from the byte the killed one had reached: a range read, not the whole copy again.
      const log = logOf(done);
      expect(log, name).toContain(`Continuing the interrupted download of "${copy.key}" in repository "nas" from byte ${at} of ${total}`);
      expect(log, name).toContain(`Read ${total} bytes, continuing from byte ${at} where the interrupted download stopped, SHA-256 as in the copy manifest`);
      const appId = done['appId'] as string;
      expect((await server.admin.get(`/api/apps/${name}`)).status).toBe(200);
      expect(await eventsOf(dataDir, appId, name), name).toEqual(await eventsOf(dataDir, referenceId, 'whole'));
      expect(readModelsOf(dataDir, appId, name), name).toEqual(readModelsOf(dataDir, referenceId, 'whole'));
      expect([...filesUnder(join(dataDir, 'blobs', 'assets', appId)).keys()].sort()).toEqual([...filesUnder(join(dataDir, 'blobs', 'assets', referenceId)).keys()].sort());
      expect(claimsOf(dataDir, name)).toEqual([{ state: 'committed', owner: appId }]);
      expect(tempFilesOf(dataDir, id)).toEqual([]);
    }
  }, 600_000);
});
