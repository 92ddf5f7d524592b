import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import type { BackupStage } from '../../src/backup/create/backup.runner.js';
import type { COPY_FAULT } from '../../src/backup/create/copy-writer.js';
import { JobFaults } from '../../src/jobs/job-faults.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { fileForm, until, waitForJob } from '../support/fixtures.js';
import { addRepository, backUp, type BackupWithCopies, copyIn, sha256 } from '../support/repositories.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { describeOnS3, requiredS3TestEnv, type S3TestEnv, S3TestBuckets } from '../support/s3-test-buckets.js';
import { type ApiClient, startServer, tempDir, type TestServer } from '../support/test-server.js';

/**
 * File versions stored once per app in a repository (src/repositories/shared/copy-files.ts):
 * copies whose larger files lie in `appvault-files/{appId}/{sha256}`, shared by every copy of the
 * app there, put back together on every read and checked file by file, and swept only when no
 * copy needs them. Against folder repositories, with a real server over HTTP.
 */
/** Files of 1 KiB and more are shared, so that small test files exercise both kinds of entry. */
const SHARED = { REPOSITORY_SHARED_FILE_MIN_BYTES: '1024', COPY_ATTEMPTS: '2', COPY_RETRY_DELAY_MS: '20', COPY_RETRY_MAX_DELAY_MS: '40' };

/** The shared files of an app in a folder repository: name to bytes' modification time. */
function sharedFiles(folder: string, appId: string): Map<string, number> {
  const dir = join(folder, 'appvault-files', appId);
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => [name, statSync(join(dir, name)).mtimeMs]));
}

const refsOf = (folder: string, appId: string) => (existsSync(join(folder, 'appvault-refs', appId)) ? readdirSync(join(folder, 'appvault-refs', appId)).sort() : []);
const copyManifestOf = (folder: string, app: string, id: string) => JSON.parse(readFileSync(join(folder, 'appvault', app, `${id}.copy.json`), 'utf8'));

describe('file versions stored once per repository (folders)', () => {
  let server: TestServer;
  let owner: ApiClient;
  let appId: string;
  let nas: string;
  let vault: string;
  const photo = randomBytes(200_000);
  const photo2 = Buffer.concat([photo, randomBytes(5_000)]);
  const poster = randomBytes(50_000);
  // Text is deflated in the archive: its shared file is the deflated bytes, named by their hash.
  const notes = Buffer.from(randomBytes(20_000).toString('hex'));
  const assets: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServer(SHARED);
    owner = server.admin;
    const app = await owner.post('/api/apps', { name: 'gallery' });
    expect(app.status).toBe(201);
    appId = app.body.id as string;
    await owner.post('/api/apps/gallery/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    await owner.post('/api/apps/gallery/content/notes', { data: { text: 'first' } });
    const created = await owner.post('/api/apps/gallery/assets', fileForm(photo, 'photo.jpg', 'image/jpeg'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    assets.photo = created.body.id as string;
    expect((await owner.put(`/api/apps/gallery/assets/${assets.photo}/content`, fileForm(photo2, 'photo.jpg', 'image/jpeg'))).status).toBe(200);
    assets.poster = (await owner.post('/api/apps/gallery/assets', fileForm(poster, 'poster.jpg', 'image/jpeg'))).body.id as string;
    assets.notes = (await owner.post('/api/apps/gallery/assets', fileForm(notes, 'notes.txt', 'text/plain'))).body.id as string;
    await owner.post('/api/apps/gallery/assets', fileForm(Buffer.from('tiny'), 'tiny.txt', 'text/plain'));
    nas = tempDir('appvault-nas-');
    vault = tempDir('appvault-vault-');
    await addRepository(server.admin, { name: 'nas', type: 'filesystem', path: nas });
    await addRepository(server.admin, { name: 'vault', type: 'filesystem', path: vault, appendOnly: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  let first: BackupWithCopies;
  let second: BackupWithCopies;

  it('writes the larger files once: a second copy writes only its frame, and reads back byte for byte', async () => {
    first = await backUp(owner, server.admin, 'gallery', { repositories: ['nas'] });
    expect(first.status, JSON.stringify(first)).toBe('Completed');
    expect(copyIn(first, 'nas')).toMatchObject({ key: `appvault/gallery/${first.id}.zip`, sizeBytes: first.sizeBytes, sha256: first.sha256, error: null });
    // No archive object: a frame and the shared files instead, which the copy manifest names.
    expect(existsSync(join(nas, 'appvault', 'gallery', `${first.id}.zip`))).toBe(false);
    const manifest = copyManifestOf(nas, 'gallery', first.id);
    expect(manifest).toMatchObject({ version: 2, archive: { key: `appvault/gallery/${first.id}.zip`, sizeBytes: first.sizeBytes, sha256: first.sha256 }, frame: { key: `appvault/gallery/${first.id}.frame` } });
    // photo (two versions), poster and notes; `tiny` stays in the frame.
    expect(manifest.files).toHaveLength(4);
    const stored = sharedFiles(nas, appId);
    expect([...stored.keys()].sort()).toEqual(manifest.files.map((file: { sha256: string }) => file.sha256).sort());
    for (const bytes of [photo, photo2, poster]) expect(stored.has(sha256(bytes))).toBe(true);
    const frame = statSync(join(nas, 'appvault', 'gallery', `${first.id}.frame`)).size;
    expect(frame).toBe(manifest.frame.sizeBytes);
    expect(frame).toBeLessThan(first.sizeBytes - photo.length - photo2.length - poster.length + 1);
    expect(refsOf(nas, appId)).toEqual([`${first.id}.json`]);

    await owner.post('/api/apps/gallery/content/notes', { data: { text: 'second' } });
    second = await backUp(owner, server.admin, 'gallery', { repositories: ['nas'] });
    expect(second.status).toBe('Completed');
    // The files were not written again: same names, same modification times.
    expect(sharedFiles(nas, appId)).toEqual(stored);
    expect(refsOf(nas, appId)).toEqual([`${first.id}.json`, `${second.id}.json`].sort());

    // Without `local` among its targets the backup is read from its copy: whole, and by ranges, identical to what was written.
    const download = await server.admin.bytes(`/api/backups/${second.id}/archive`);
    expect(download.status).toBe(200);
    expect(sha256(download.bytes)).toBe(second.sha256);
    expect(download.bytes.length).toBe(second.sizeBytes);
    const middle = Math.floor(second.sizeBytes / 2);
    const ranged = await fetch(`${server.admin.url}/api/backups/${second.id}/archive`, { headers: { authorization: `Bearer ${server.admin.token}`, range: `bytes=${middle - 100_000}-${middle + 100}` } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(download.bytes.subarray(middle - 100_000, middle + 101))).toBe(true);

    // A migration link hands out the whole archive too.
    const link = await owner.post(`/api/apps/gallery/backups/${second.id}/links`, { expiresIn: '1h' });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    const viaLink = await fetch(link.body.url as string);
    expect(viaLink.status).toBe(200);
    expect(sha256(Buffer.from(await viaLink.arrayBuffer()))).toBe(second.sha256);

    // Restored from the copy (repository and key): every file version byte-identical.
    const started = await server.admin.post('/api/restore', { repository: 'nas', key: copyIn(second, 'nas').key, name: 'gallery-again' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const restored = await waitForJob(server.admin, `/api/restore/${started.body.id}`);
    expect(restored.status, JSON.stringify(restored.log)).toBe('Completed');
    for (const [id, versions] of [
      [assets.photo, [photo, photo2]],
      [assets.poster, [poster]],
      [assets.notes, [notes]],
    ] as const) {
      for (const [version, bytes] of versions.entries()) {
        const read = await server.admin.bytes(`/api/apps/gallery-again/assets/${id}/content?version=${version}`);
        expect(read.status).toBe(200);
        expect(read.bytes.equals(bytes)).toBe(true);
      }
    }
    // A restore of the backup by its id (as a rollback reads it) takes the archive from the same copy.
    const byId = await server.admin.post('/api/restore', { backupId: second.id, name: 'gallery-by-id' });
    expect(byId.status, JSON.stringify(byId.body)).toBe(202);
    const restoredById = await waitForJob(server.admin, `/api/restore/${byId.body.id}`);
    expect(restoredById.status, JSON.stringify(restoredById.log)).toBe('Completed');
    expect((await server.admin.bytes(`/api/apps/gallery-by-id/assets/${assets.photo}/content?version=1`)).bytes.equals(photo2)).toBe(true);
    // verify reads it all back, each file checked.
    const verified = await server.admin.post(`/api/backups/${second.id}/verify`, { readData: true });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(copyIn(verified.body, 'nas').error).toBeNull();
  });

  it('a damaged or missing shared file is refused by name: verify, restore and download', async () => {
    const file = join(nas, 'appvault-files', appId, sha256(poster));
    const key = `appvault-files/${appId}/${sha256(poster)}`;
    const damaged = Buffer.from(poster);
    damaged[1000] ^= 0xff;
    writeFileSync(file, damaged);
    try {
      // Same size: only reading the bytes finds it.
      expect(copyIn((await server.admin.post(`/api/backups/${second.id}/verify`, {})).body, 'nas').error).toBeNull();
      const read = copyIn((await server.admin.post(`/api/backups/${second.id}/verify`, { readData: true })).body, 'nas');
      expect(read.error).toContain(`The shared file ${key} that the copy appvault/gallery/${second.id}.zip needs is damaged: it reads with SHA-256 ${sha256(damaged)}`);
      const restore = await server.admin.post('/api/restore', { repository: 'nas', key: copyIn(second, 'nas').key, name: 'gallery-damaged' });
      expect(restore.status, JSON.stringify(restore.body)).toBe(202);
      const failed = await waitForJob(server.admin, `/api/restore/${restore.body.id}`);
      expect(failed.status).toBe('Failed');
      expect(failed.error).toContain(`The shared file ${key}`);
      expect((await server.admin.get('/api/apps/gallery-damaged')).status).toBe(404);

      writeFileSync(file, Buffer.alloc(0));
      expect(copyIn((await server.admin.post(`/api/backups/${second.id}/verify`, {})).body, 'nas').error).toBe(`The copy needs the shared file ${key} of ${poster.length} bytes, which the repository holds with 0: it was changed or damaged`);
    } finally {
      writeFileSync(file, poster);
    }
    rmSync(file);
    try {
      expect(copyIn((await server.admin.post(`/api/backups/${second.id}/verify`, {})).body, 'nas').error).toBe(`The copy needs the shared file ${key}, which is missing from the repository`);
      // The stream breaks off once the missing file is reached: never a whole archive with a hole.
      const download = await server.admin.bytes(`/api/backups/${second.id}/archive`).catch(() => undefined);
      expect(download === undefined || download.status !== 200 || download.bytes.length < second.sizeBytes).toBe(true);
    } finally {
      writeFileSync(file, poster);
    }
    expect(copyIn((await server.admin.post(`/api/backups/${second.id}/verify`, { readData: true })).body, 'nas').error).toBeNull();
  });

  it('removing a copy removes the files no kept copy needs, and only those', async () => {
    const third = await backUp(owner, server.admin, 'gallery', { repositories: ['nas'] });
    const extra = randomBytes(40_000);
    expect((await owner.post('/api/apps/gallery/assets', fileForm(extra, 'extra.jpg', 'image/jpeg'))).status).toBe(201);
    // The newest backup holds a file the older ones do not.
    const fourth = await backUp(owner, server.admin, 'gallery', { repositories: ['nas'] });
    expect([third.status, fourth.status]).toEqual(['Completed', 'Completed']);
    expect(copyManifestOf(nas, 'gallery', third.id).files).toHaveLength(4);
    expect(copyManifestOf(nas, 'gallery', fourth.id).files).toHaveLength(5);
    const all = sharedFiles(nas, appId);
    expect(all.size).toBe(5);

    expect((await server.admin.delete(`/api/backups/${first.id}`)).status).toBe(204);
    expect(sharedFiles(nas, appId)).toEqual(all);
    expect(refsOf(nas, appId)).toEqual([second.id, third.id, fourth.id].map((id) => `${id}.json`).sort());
    expect(existsSync(join(nas, 'appvault', 'gallery', `${first.id}.frame`))).toBe(false);

    expect((await server.admin.delete(`/api/backups/${fourth.id}`)).status).toBe(204);
    const left = sharedFiles(nas, appId);
    expect(left.has(sha256(extra))).toBe(false);
    expect([...left.keys()].sort()).toEqual([...all.keys()].filter((name) => name !== sha256(extra)).sort());
    expect(sha256((await server.admin.bytes(`/api/backups/${third.id}/archive`)).bytes)).toBe(third.sha256);

    expect((await server.admin.delete(`/api/backups/${second.id}`)).status).toBe(204);
    expect(sharedFiles(nas, appId)).toEqual(left);
    expect((await server.admin.delete(`/api/backups/${third.id}`)).status).toBe(204);
    expect(sharedFiles(nas, appId).size).toBe(0);
    expect(refsOf(nas, appId)).toEqual([]);
    // Nothing of the app is left (emptied folders go too).
    expect(existsSync(join(nas, 'appvault', 'gallery'))).toBe(false);
  });

  it('a copy that stops after its files were written leaves no file no copy needs, and keeps those another copy needs', async () => {
    const app = await owner.post('/api/apps', { name: 'blocked' });
    const blockedId = app.body.id as string;
    const kept = randomBytes(30_000);
    await owner.post('/api/apps/blocked/assets', fileForm(kept, 'a.jpg', 'image/jpeg'));
    const before = await backUp(owner, server.admin, 'blocked', { repositories: ['nas'] });
    expect(before.status).toBe('Completed');
    const fresh = randomBytes(30_000);
    await owner.post('/api/apps/blocked/assets', fileForm(fresh, 'b.jpg', 'image/jpeg'));
    const faults = server.app.get(JobFaults).of<BackupStage | typeof COPY_FAULT>('backup');
    let held: Map<string, number> | undefined;
    // Everything but the copy manifest is written when the copy stops.
    faults.onStep = (step) => {
      if (step === 'copy-manifest') held = sharedFiles(nas, blockedId);
    };
    faults.failAt = 'copy-manifest';
    let stopped: BackupWithCopies;
    try {
      stopped = await backUp(owner, server.admin, 'blocked', { repositories: ['nas'] });
    } finally {
      faults.failAt = undefined;
      faults.onStep = undefined;
    }
    expect(held && [...held.keys()].sort()).toEqual([sha256(kept), sha256(fresh)].sort());
    expect(stopped.status).toBe('Completed');
    expect(copyIn(stopped, 'nas')).toMatchObject({ written: null, error: 'Injected failure at backup stage "copy-manifest"' });
    expect([...sharedFiles(nas, blockedId).keys()]).toEqual([sha256(kept)]);
    expect(refsOf(nas, blockedId)).toEqual([`${before.id}.json`]);
    expect(existsSync(join(nas, 'appvault', 'blocked', `${stopped.id}.frame`))).toBe(false);
    expect(sha256((await server.admin.bytes(`/api/backups/${before.id}/archive`)).bytes)).toBe(before.sha256);

    // A frame that cannot be written (a file where the app's folder would be) fails its copy the same way.
    mkdirSync(join(nas, 'appvault'), { recursive: true });
    const other = await owner.post('/api/apps', { name: 'walled' });
    await owner.post('/api/apps/walled/assets', fileForm(randomBytes(30_000), 'a.jpg', 'image/jpeg'));
    writeFileSync(join(nas, 'appvault', 'walled'), 'in the way');
    const walled = await backUp(owner, server.admin, 'walled', { repositories: ['nas'] });
    expect(copyIn(walled, 'nas').written).toBeNull();
    expect(sharedFiles(nas, other.body.id as string).size).toBe(0);
    expect(refsOf(nas, other.body.id as string)).toEqual([]);
  });

  it('an append-only folder shares files too, and keeps them when a backup is deleted', async () => {
    const one = await backUp(owner, server.admin, 'gallery', { repositories: ['vault'] });
    const files = sharedFiles(vault, appId);
    expect(files.size).toBe(copyManifestOf(vault, 'gallery', one.id).files.length);
    // An append-only folder refuses to replace a file: the second copy succeeds because it writes none.
    const two = await backUp(owner, server.admin, 'gallery', { repositories: ['vault'] });
    expect([one.status, two.status, copyIn(two, 'vault').error]).toEqual(['Completed', 'Completed', null]);
    expect(sharedFiles(vault, appId)).toEqual(files);
    const deleted = await server.admin.delete(`/api/backups/${one.id}`);
    expect(deleted.status).toBe(200);
    expect(sharedFiles(vault, appId)).toEqual(files);
    expect(sha256((await server.admin.bytes(`/api/backups/${two.id}/archive`)).bytes)).toBe(two.sha256);
  });

  it('a refs object that cannot be read stops the sweep, never the delete: the files stay until a sweep knows every reference', async () => {
    const app = await owner.post('/api/apps', { name: 'swept' });
    const sweptId = app.body.id as string;
    await owner.post('/api/apps/swept/assets', fileForm(randomBytes(30_000), 'a.jpg', 'image/jpeg'));
    const one = await backUp(owner, server.admin, 'swept', { repositories: ['nas'] });
    const two = await backUp(owner, server.admin, 'swept', { repositories: ['nas'] });
    const files = sharedFiles(nas, sweptId);
    expect(files.size).toBe(1);
    const junk = join(nas, 'appvault-refs', sweptId, 'written-by-someone-else.json');
    writeFileSync(junk, '{"not": "refs"}');
    expect((await server.admin.delete(`/api/backups/${one.id}`)).status).toBe(204);
    expect((await server.admin.delete(`/api/backups/${two.id}`)).status).toBe(204);
    expect(sharedFiles(nas, sweptId)).toEqual(files);
    rmSync(junk);
    const three = await backUp(owner, server.admin, 'swept', { repositories: ['nas'] });
    expect((await server.admin.delete(`/api/backups/${three.id}`)).status).toBe(204);
    expect(sharedFiles(nas, sweptId).size).toBe(0);
  });

  it('an encrypted backup leaves no plain file bytes in the repository: its copy is the ciphertext, whole', async () => {
    const before = sharedFiles(nas, appId);
    const { recipient } = await generateKeyPair();
    expect((await owner.post('/api/apps/gallery/recipients', { name: 'ops', recipient })).status).toBe(201);
    const sealed = await backUp(owner, server.admin, 'gallery', { repositories: ['nas'], encryption: { recipients: ['ops'] } });
    expect(sealed.status, JSON.stringify(sealed)).toBe('Completed');
    expect(copyIn(sealed, 'nas').key).toBe(`appvault/gallery/${sealed.id}.zip.age`);
    expect(copyManifestOf(nas, 'gallery', sealed.id)).toMatchObject({ version: 1, encrypted: true });
    expect(copyManifestOf(nas, 'gallery', sealed.id).files).toBeUndefined();
    expect(sharedFiles(nas, appId)).toEqual(before);
    expect(refsOf(nas, appId).some((name) => name.startsWith(sealed.id))).toBe(false);
    const ciphertext = readFileSync(join(nas, 'appvault', 'gallery', `${sealed.id}.zip.age`));
    expect(ciphertext.includes(photo.subarray(0, 64))).toBe(false);
    expect(ciphertext.includes(photo2.subarray(100_000, 100_064))).toBe(false);
  });
});

describeOnS3('file versions stored once per repository (S3)', () => {
  let env: S3TestEnv;
  let buckets: S3TestBuckets;
  let proxy: S3FaultProxy;
  let server: TestServer;
  let appId: string;
  let plain: string;
  let locking: string;
  const photo = randomBytes(300_000);
  const poster = randomBytes(80_000);

  beforeAll(async () => {
    env = requiredS3TestEnv();
    buckets = new S3TestBuckets(env);
    plain = await buckets.create('shared');
    locking = await buckets.create('shared-lock', true);
    proxy = await S3FaultProxy.start(env.endpoint);
    server = await startServer(SHARED);
    appId = (await server.admin.post('/api/apps', { name: 'gallery' })).body.id as string;
    await server.admin.post('/api/apps/gallery/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    await server.admin.post('/api/apps/gallery/assets', fileForm(photo, 'photo.jpg', 'image/jpeg'));
    await server.admin.post('/api/apps/gallery/assets', fileForm(poster, 'poster.jpg', 'image/jpeg'));
    const credentials = { accessKeyId: env.credentials.accessKeyId, secretAccessKey: env.credentials.secretAccessKey };
    await addRepository(server.admin, { name: 'bucket', type: 's3', s3: { endpoint: proxy.url, region: env.region, bucket: plain, prefix: 'team', ...credentials } });
    await addRepository(server.admin, { name: 'locked', type: 's3', s3: { endpoint: env.endpoint, region: env.region, bucket: locking, ...credentials }, objectLock: { mode: 'GOVERNANCE', days: 1 } });
    await addRepository(server.admin, { name: 'locked-longer', type: 's3', s3: { endpoint: env.endpoint, region: env.region, bucket: locking, ...credentials }, objectLock: { mode: 'GOVERNANCE', days: 3 } });
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await buckets?.removeAll();
  });

  const keys = async (bucket: string, prefix: string) =>
    ((await buckets.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((object) => object.Key!).sort();
  const head = (bucket: string, key: string) => buckets.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

  it('a second copy puts no file the bucket holds; downloads and restores read the same bytes; removal sweeps', async () => {
    const first = await backUp(server.admin, server.admin, 'gallery', { repositories: ['bucket'] });
    expect(first.status, JSON.stringify(first)).toBe('Completed');
    const files = await keys(plain, `team/appvault-files/${appId}/`);
    expect(files).toEqual([sha256(photo), sha256(poster)].map((sha) => `team/appvault-files/${appId}/${sha}`).sort());
    // The store keeps each file's SHA-256 with it, as for an archive.
    expect((await head(plain, files[0]!)).Metadata?.sha256).toBe(files[0]!.split('/').pop());

    await server.admin.post('/api/apps/gallery/content/notes', { data: { text: 'one more' } });
    proxy.reset();
    const second = await backUp(server.admin, server.admin, 'gallery', { repositories: ['bucket'] });
    expect(second.status).toBe('Completed');
    // The refs object, the frame and the copy manifest: no file again.
    expect(proxy.count('PutObject') + proxy.count('CreateMultipartUpload')).toBe(3);
    expect(await keys(plain, `team/appvault-files/${appId}/`)).toEqual(files);

    const download = await server.admin.bytes(`/api/backups/${second.id}/archive`);
    expect(sha256(download.bytes)).toBe(second.sha256);
    const started = await server.admin.post('/api/restore', { repository: 'bucket', key: copyIn(second, 'bucket').key, name: 'gallery-from-s3' });
    const restored = await waitForJob(server.admin, `/api/restore/${started.body.id}`);
    expect(restored.status, JSON.stringify(restored.log)).toBe('Completed');
    const listed = (await server.admin.get('/api/apps/gallery-from-s3/assets')).body.items as { id: string; fileName: string }[];
    for (const [name, bytes] of [
      ['photo.jpg', photo],
      ['poster.jpg', poster],
    ] as const) {
      const asset = listed.find((item) => item.fileName === name)!;
      expect((await server.admin.bytes(`/api/apps/gallery-from-s3/assets/${asset.id}/content`)).bytes.equals(bytes)).toBe(true);
    }
    // The listing of the bucket shows both copies at their archive keys, with the archive's size and SHA-256.
    const items = (await server.admin.get('/api/repositories/bucket/backups')).body.items as { key: string; sizeBytes: number; sha256: string }[];
    expect(items.find((item) => item.key === copyIn(second, 'bucket').key)).toMatchObject({ sizeBytes: second.sizeBytes, sha256: second.sha256 });

    expect((await server.admin.delete(`/api/backups/${first.id}`)).status).toBe(204);
    expect(await keys(plain, `team/appvault-files/${appId}/`)).toEqual(files);
    expect((await server.admin.delete(`/api/backups/${second.id}`)).status).toBe(204);
    expect(await keys(plain, `team/appvault-files/${appId}/`)).toEqual([]);
    expect(await keys(plain, `team/appvault-refs/${appId}/`)).toEqual([]);
  });

  it('locks each file at least as long as every copy that needs it: a longer lock puts a locked file again', async () => {
    const short = await backUp(server.admin, server.admin, 'gallery', { repositories: ['locked'] });
    expect(short.status, JSON.stringify(short)).toBe('Completed');
    const shortUntil = Date.parse(copyIn(short, 'locked').lockedUntil!);
    const files = await keys(locking, `appvault-files/${appId}/`);
    expect(files).toHaveLength(2);
    for (const key of files) expect((await head(locking, key)).ObjectLockRetainUntilDate!.getTime()).toBeGreaterThanOrEqual(shortUntil);

    const long = await backUp(server.admin, server.admin, 'gallery', { repositories: ['locked-longer'] });
    expect(long.status, JSON.stringify(long)).toBe('Completed');
    const longUntil = Date.parse(copyIn(long, 'locked-longer').lockedUntil!);
    expect(longUntil).toBeGreaterThan(shortUntil + 24 * 3600_000);
    for (const key of files) expect((await head(locking, key)).ObjectLockRetainUntilDate!.getTime()).toBeGreaterThanOrEqual(longUntil);
    // Neither copy can be deleted while it is locked; its files stay.
    const refused = await server.admin.delete(`/api/backups/${short.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`its copy in repository "locked" (${copyIn(short, 'locked').key}) is locked until`);
    expect(await keys(locking, `appvault-files/${appId}/`)).toEqual(files);
    expect(sha256((await server.admin.bytes(`/api/backups/${short.id}/archive`)).bytes)).toBe(short.sha256);
  });

  it('a server killed after a copy put its files, before its manifest: the next start removes what no copy needs', async () => {
    const dataDir = tempDir();
    let child: ChildServer | undefined = await startChildServer(dataDir, { REPOSITORY_SHARED_FILE_MIN_BYTES: '1024' });
    try {
      const made = await child.admin.post('/api/apps', { name: 'crashy' });
      const crashyId = made.body.id as string;
      const kept = randomBytes(40_000);
      await child.admin.post('/api/apps/crashy/assets', fileForm(kept, 'kept.jpg', 'image/jpeg'));
      const credentials = { accessKeyId: env.credentials.accessKeyId, secretAccessKey: env.credentials.secretAccessKey };
      await addRepository(child.admin, { name: 'held', type: 's3', s3: { endpoint: proxy.url, region: env.region, bucket: plain, prefix: 'crash', ...credentials } });
      const before = await backUp(child.admin, child.admin, 'crashy', { repositories: ['held'] });
      expect(before.status).toBe('Completed');
      const fresh = randomBytes(40_000);
      await child.admin.post('/api/apps/crashy/assets', fileForm(fresh, 'fresh.jpg', 'image/jpeg'));
      proxy.reset();
      proxy.holdPutsMatching(/\.copy\.json/);
      const started = await child.admin.post('/api/apps/crashy/backups', { repositories: ['held'] });
      const id = started.body.id as string;
      await until(async () => (proxy.held > 0 ? true : undefined), 'the copy manifest to be on its way');
      const files = (prefix: string) => keys(plain, `crash/${prefix}/${crashyId}/`);
      expect(await files('appvault-files')).toEqual([sha256(kept), sha256(fresh)].map((sha) => `crash/appvault-files/${crashyId}/${sha}`).sort());
      expect(await files('appvault-refs')).toEqual([before.id, id].map((name) => `crash/appvault-refs/${crashyId}/${name}.json`).sort());
      await child.kill();
      proxy.holdPutsMatching(undefined);

      child = await startChildServer(dataDir, { REPOSITORY_SHARED_FILE_MIN_BYTES: '1024' });
      const settled = (await child.admin.get(`/api/backups/${id}`)).body;
      expect(copyIn(settled, 'held')).toMatchObject({ written: null, error: 'The server stopped while this copy was being written' });
      // The recovery removes the leftovers in the background: the refs object, the frame, the file only it needed.
      await until(async () => ((await files('appvault-refs')).length === 1 ? true : undefined), 'the leftovers to be removed');
      await until(async () => ((await files('appvault-files')).length === 1 ? true : undefined), 'the file no copy needs to be swept');
      expect(await files('appvault-files')).toEqual([`crash/appvault-files/${crashyId}/${sha256(kept)}`]);
      expect(await keys(plain, `crash/appvault/crashy/${id}`)).toEqual([]);
      expect(sha256((await child.admin.bytes(`/api/backups/${before.id}/archive`)).bytes)).toBe(before.sha256);
    } finally {
      proxy.holdPutsMatching(undefined);
      await child?.stop();
    }
  });
});
