import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import { RepositoryStoreError } from '../../src/infrastructure/repository-store/repository-store.port.js';
import { tempDir } from '../support/test-server.js';
import { type RepositoryStoreFixture, repositoryStoreContract } from './repository-store.contract.js';

const TEMP = /^\.appvault-[0-9a-f-]{36}\.part$/;

/** Every temp file under `dir`, as paths relative to `root`. */
function tempFiles(root: string, dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && TEMP.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

function folderFixture(options: { appendOnly?: boolean } = {}): RepositoryStoreFixture & { root: string; store: FilesystemRepositoryStore } {
  const root = join(tempDir('appvault-repo-'), 'nas');
  mkdirSync(root);
  const store = new FilesystemRepositoryStore(root, options);
  return {
    root,
    store,
    async receivedBytes(key) {
      const dir = join(root, dirname(key));
      return tempFiles(root, dir).reduce((sum, path) => sum + statSync(join(root, path)).size, 0);
    },
    async pendingUploads(prefix) {
      return tempFiles(root, join(root, prefix));
    },
    async leaveStaleUpload(key) {
      const dir = join(root, dirname(key));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `.appvault-${randomUUID()}.part`), randomBytes(1000));
    },
    // The write stream's buffer and one source chunk: a folder takes bytes as fast as they come.
    readAheadLimit: 2 * 1024 * 1024,
    largeBytes: 24 * 1024 * 1024,
    close: async () => undefined,
  };
}

repositoryStoreContract('filesystem', async () => folderFixture());

describe('FilesystemRepositoryStore specifics', () => {
  it('never creates the repository folder itself, so an unmounted share is reported, not filled', async () => {
    const root = join(tempDir('appvault-repo-'), 'not-mounted');
    const store = new FilesystemRepositoryStore(root);
    const error = await store.put('backups/1.zip', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryStoreError);
    expect(error).toMatchObject({ reason: 'config' });
    expect((error as Error).message).toContain(`${root} does not exist: if it is a mount point`);
    expect(existsSync(root)).toBe(false);
    const probe = await store.probe();
    expect(probe).toMatchObject({ ok: false, steps: [{ step: 'folder', ok: false }] });
    expect(probe.steps[0]!.message).toContain('mount it');
  });

  it('append-only: refuses to delete or replace, says so, and still takes new copies', async () => {
    const { store, root } = folderFixture({ appendOnly: true });
    expect(store.capabilities.appendOnly).toBe(true);
    await store.put('backups/1.zip', Readable.from([Buffer.from('first')]));
    await expect(store.delete('backups/1.zip')).rejects.toMatchObject({ reason: 'refused', message: expect.stringContaining('append-only') });
    const replaced = await store.put('backups/1.zip', Readable.from([Buffer.from('second')])).catch((e: unknown) => e);
    expect(replaced).toMatchObject({ reason: 'refused', message: expect.stringContaining('never replaces "backups/1.zip"') });
    expect(await store.put('backups/2.zip', Readable.from([Buffer.from('new')]))).toMatchObject({ size: 3 });
    expect(readdirSync(join(root, 'backups')).sort()).toEqual(['1.zip', '2.zip']);
    const probe = await store.probe();
    expect(probe.ok).toBe(true);
    expect(probe.steps.find((s) => s.step === 'delete')!.message).toContain('append-only');
  });

  it('refuses a lock: a folder cannot hold one', async () => {
    const { store } = folderFixture();
    const source = Readable.from([Buffer.from('x')]);
    await expect(store.put('a', source, { lockUntil: new Date(Date.now() + 86_400_000) })).rejects.toMatchObject({ reason: 'unsupported' });
    expect(source.destroyed).toBe(true);
    expect(await store.head('a')).toBeUndefined();
  });

  it('keeps temp files beside their target, hidden from listings, and removes them after a failure', async () => {
    const { store, root } = folderFixture();
    await store.put('x/y/z.zip', Readable.from([Buffer.from('done')]));
    await expect(store.put('x/y/w.zip', Readable.from([Buffer.from('a')]), { sha256: '0'.repeat(64) })).rejects.toMatchObject({ reason: 'integrity' });
    expect(readdirSync(join(root, 'x', 'y'))).toEqual(['z.zip']);
  });

  it('sweeps temp files by age: a fresh one may belong to a put in progress', async () => {
    const { store, root } = folderFixture();
    mkdirSync(join(root, 'a'), { recursive: true });
    const old = join(root, 'a', `.appvault-${randomUUID()}.part`);
    const young = join(root, `.appvault-${randomUUID()}.part`);
    writeFileSync(old, 'old');
    writeFileSync(young, 'young');
    writeFileSync(join(root, 'a', '.operator-notes'), 'not ours');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    expect(await store.sweepStaleUploads(3_600_000)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(existsSync(join(root, 'a', '.operator-notes'))).toBe(true);
  });

  // root writes anywhere, whatever the mode bits say.
  it.skipIf(process.getuid?.() === 0)('says when the folder is read-only for this process', async () => {
    const { store, root } = folderFixture();
    chmodSync(root, 0o500);
    try {
      const probe = await store.probe();
      expect(probe.ok).toBe(false);
      expect(probe.steps[0]!.message).toMatch(/may not write/);
    } finally {
      chmodSync(root, 0o700);
    }
  });
});
