import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FilesystemBlobStore } from '../../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { BlobRepositoryStore } from '../../src/infrastructure/repository-store/blob-repository-store.adapter.js';
import { IntegrityError, ObjectNotFoundError, type RepositoryStore } from '../../src/infrastructure/repository-store/repository-store.port.js';
import { AdapterRepositoryStores } from '../../src/infrastructure/repository-store/repository-stores.js';
import type { RepositoryRecord } from '../../src/repositories/registry/repository-record.js';
import { RepositoryRegistryService } from '../../src/repositories/registry/repository-registry.service.js';
import { UnknownRepositoryError } from '../../src/repositories/shared/repository-registry.port.js';
import { tempDir } from '../support/test-server.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The real adapters, counting what is closed. */
class CountingStores extends AdapterRepositoryStores {
  readonly closed: RepositoryStore[] = [];
  override filesystem(path: string, options: { appendOnly: boolean }): RepositoryStore {
    const store = super.filesystem(path, options);
    const close = store.close.bind(store);
    store.close = async () => {
      this.closed.push(store);
      await close();
    };
    return store;
  }
}

describe('RepositoryRegistry on a real read store and real stores', () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const thing of opened.splice(0)) await thing.close();
  });

  const setup = () => {
    const dir = tempDir('appvault-registry-');
    const reads = new SqliteReadStore(join(dir, 'read.db'));
    const blobs = new FilesystemBlobStore(join(dir, 'blobs'));
    opened.push(reads, blobs);
    const stores = new CountingStores(blobs, `folder ${join(dir, 'blobs')}`);
    return { dir, reads, stores, registry: new RepositoryRegistryService(reads, stores) };
  };
  const folderRecord = (name: string, path: string, revision = 1): RepositoryRecord => ({
    id: `id-${name}`,
    name,
    type: 'filesystem',
    path,
    s3: null,
    objectLock: null,
    appendOnly: false,
    revision,
    created: '2026-01-01T00:00:00.000Z',
    createdBy: 'u',
    updated: '2026-01-01T00:00:00.000Z',
    updatedBy: 'u',
  });

  it('has `local` always, opens a stored repository once, reopens it when it changed (here or in another process) and closes the old one', async () => {
    const { dir, reads, stores, registry } = setup();
    const nas = join(dir, 'nas');
    mkdirSync(nas);
    expect((await registry.definitions()).map((d) => d.name)).toEqual(['local']);
    expect((await registry.open('local')).store).toBe(stores.local());
    await expect(registry.open('nas')).rejects.toBeInstanceOf(UnknownRepositoryError);

    await registry.records.put(folderRecord('nas', nas));
    const first = await registry.open('nas');
    expect(first.definition).toEqual({ id: 'id-nas', name: 'nas', type: 'filesystem', location: `folder ${nas}`, objectLock: null, appendOnly: false });
    expect((await registry.open('nas')).store).toBe(first.store);

    // Another process (another registry on the same read store) changes it: this one notices at the next open.
    const other = new RepositoryRegistryService(reads, stores);
    await other.records.put({ ...folderRecord('nas', nas, 2), appendOnly: true });
    const second = await registry.open('nas');
    expect(second.store).not.toBe(first.store);
    expect(second.store.capabilities.appendOnly).toBe(true);
    expect(stores.closed).toEqual([first.store]);

    await other.records.delete('nas');
    await expect(registry.open('nas')).rejects.toBeInstanceOf(UnknownRepositoryError);
    expect(stores.closed).toEqual([first.store, second.store]);

    await registry.records.put(folderRecord('nas', nas, 3));
    const third = await registry.open('nas');
    await registry.onApplicationShutdown();
    expect(stores.closed).toEqual([first.store, second.store, third.store]);
  });

  it('the blob store as the `local` repository: verified puts, ranges, listing with times, deletes and a probe', async () => {
    const dir = tempDir('appvault-local-');
    const blobs = new FilesystemBlobStore(join(dir, 'blobs'));
    opened.push(blobs);
    const local = new BlobRepositoryStore(blobs, 'folder x');
    const put = await local.put('backups/b1.zip', Readable.from([Buffer.from('0123456789')]));
    expect(put).toMatchObject({ size: 10, verifiedBy: 'read-back' });
    expect(await text(await local.get('backups/b1.zip', { start: 2, end: 4 }))).toBe('234');
    expect(await text(await local.get('backups/b1.zip', { suffix: 3 }))).toBe('789');
    await expect(local.get('backups/b1.zip', { start: 10 })).rejects.toMatchObject({ reason: 'invalid-range' });
    expect(await local.head('backups/b1.zip')).toEqual({ key: 'backups/b1.zip', size: 10, lastModified: expect.any(Date) });
    const listed = [];
    for await (const item of local.list('backups')) listed.push(item);
    expect(listed).toEqual([{ key: 'backups/b1.zip', size: 10, lastModified: expect.any(Date) }]);
    await expect(local.put('backups/b2.zip', Readable.from([Buffer.from('x')]), { sha256: '0'.repeat(64) })).rejects.toBeInstanceOf(IntegrityError);
    expect(await local.head('backups/b2.zip')).toBeUndefined();
    await expect(local.put('a', Readable.from([Buffer.from('x')]), { lockUntil: new Date(Date.now() + 1000) })).rejects.toMatchObject({ reason: 'unsupported' });
    const probe = await local.probe();
    expect(probe).toMatchObject({ ok: true, steps: [{ step: 'write', ok: true }, { step: 'read', ok: true }, { step: 'delete', ok: true }] });
    const after = [];
    for await (const item of local.list('')) after.push(item.key);
    expect(after).toEqual(['backups/b1.zip']);
    await local.delete('backups/b1.zip');
    await expect(local.get('backups/b1.zip')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await local.close();
    // Closing the repository leaves the installation's blob store open.
    expect(await blobs.exists('backups/b1.zip')).toBe(false);
  });
});
