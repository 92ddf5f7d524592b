import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { assertBlobKey, BlobTooLargeError, InvalidBlobKeyError, normalizeBlobPrefix } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { FilesystemBlobStore } from '../../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { escapeRegExp, GRIDFS_TEMP_PREFIX, GridFsBlobStore, gridFsPrefixFilter, gridFsTempName } from '../../src/infrastructure/blob-store/gridfs-blob-store.adapter.js';
import { FakeMongo } from '../support/fake-mongo.js';
import { blobStoreContract } from './blob-store.contract.js';

const dir = () => mkdtempSync(join(tmpdir(), 'appvault-blobs-'));

/** Every file under a directory, hidden ones included, so leftovers of failed uploads show up. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

blobStoreContract('filesystem', async () => ({ store: new FilesystemBlobStore(join(dir(), 'blobs')), close: async () => undefined }));
// The GridFS adapter with the driver's own GridFSBucket, on the recording in-memory fake (every run);
// against a server when MONGO_URL is set, below.
blobStoreContract('gridfs on the in-memory fake', async () => ({ store: new GridFsBlobStore(new FakeMongo().db), close: async () => undefined }));

const mongoUrl = process.env['MONGO_URL'];
if (mongoUrl) {
  blobStoreContract('gridfs', async () => {
    const store = await GridFsBlobStore.connect(mongoUrl, 'contract_blobs');
    return { store, close: () => store.close() };
  });
} else {
  console.log('SKIP GridFS BlobStore contract suite: MONGO_URL is not set (set it to run against a server, e.g. mongodb://localhost:27017/appvault-test)');
  describe.skip('BlobStore contract: gridfs (needs MONGO_URL)', () => {
    it('runs against a MongoDB server', () => undefined);
  });
}

describe('FilesystemBlobStore specifics', () => {
  it('lays blobs out as plain files under the root and leaves no temp files after failures', async () => {
    const root = join(dir(), 'blobs');
    const store = new FilesystemBlobStore(root);
    await store.put('assets/app/asset/0', Readable.from([Buffer.from('hello')]));
    await expect(store.put('assets/app/asset/1', Readable.from([Buffer.alloc(2048)]), { maxBytes: 1024 })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(filesUnder(root)).toEqual([join(root, 'assets', 'app', 'asset', '0')]);
  });

  it('removes what a process killed mid-put left in the temp directory', async () => {
    const root = join(dir(), 'blobs');
    const store = new FilesystemBlobStore(root);
    await store.put('kept/0', Readable.from([Buffer.from('x')]));
    mkdirSync(join(root, '.tmp'), { recursive: true });
    writeFileSync(join(root, '.tmp', 'dead-process.part'), 'half a file');
    await store.removeIncomplete();
    expect(filesUnder(root)).toEqual([join(root, 'kept', '0')]);
  });

  it('prunes directories emptied by deletes', async () => {
    const root = join(dir(), 'blobs');
    const store = new FilesystemBlobStore(root);
    await store.put('a/b/c/d', Readable.from([Buffer.from('x')]));
    await store.delete('a/b/c/d');
    expect(readdirSync(root).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('refuses a key that is the prefix of other blobs, and one whose parent is a blob', async () => {
    const store = new FilesystemBlobStore(join(dir(), 'blobs'));
    await store.put('p/q', Readable.from([Buffer.from('x')]));
    await expect(store.put('p', Readable.from([Buffer.from('y')]))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(store.put('p/q/r', Readable.from([Buffer.from('y')]))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    expect(await store.exists('p/q')).toBe(true);
  });
});

describe('blob keys', () => {
  it('accepts relative slash-separated paths', () => {
    for (const key of ['a', 'assets/app/asset/0', 'backups/123.zip', 'x/y.z/w~1']) expect(() => assertBlobKey(key)).not.toThrow();
  });

  it('refuses traversal, absolute paths, backslashes, NUL and empty segments', () => {
    for (const key of ['', '..', '../a', 'a/..', 'a/../b', '.', './a', '/a', 'C:/a', 'a\\b', 'a\0b', 'a//b', 'a/', '.tmp/x', 'a'.repeat(1025)]) {
      expect(() => assertBlobKey(key), JSON.stringify(key)).toThrow(InvalidBlobKeyError);
    }
  });

  it('normalizes prefixes: trailing slash dropped, empty stays empty', () => {
    expect(normalizeBlobPrefix('')).toBe('');
    expect(normalizeBlobPrefix('assets/app/')).toBe('assets/app');
    expect(normalizeBlobPrefix('assets/app')).toBe('assets/app');
    expect(() => normalizeBlobPrefix('/')).toThrow(InvalidBlobKeyError);
    expect(() => normalizeBlobPrefix('../')).toThrow(InvalidBlobKeyError);
  });
});

describe('GridFsBlobStore pure parts', () => {
  it('matches whole segments of a prefix and nothing else', () => {
    const { filename } = gridFsPrefixFilter('assets/app1');
    expect(filename.test('assets/app1')).toBe(true);
    expect(filename.test('assets/app1/x/0')).toBe(true);
    expect(filename.test('assets/app10/x/0')).toBe(false);
    expect(filename.test('assets/app1x')).toBe(false);
    expect(filename.test('other/assets/app1/0')).toBe(false);
  });

  it('escapes regular-expression characters in keys', () => {
    const { filename } = gridFsPrefixFilter('a.b/(c)+[d]');
    expect(filename.test('a.b/(c)+[d]/0')).toBe(true);
    expect(filename.test('axb/(c)+[d]/0')).toBe(false);
    expect(new RegExp(`^${escapeRegExp('x.*?$^')}$`).test('x.*?$^')).toBe(true);
  });

  it('names uploads in progress so that no key and no listing can match them', () => {
    const temp = gridFsTempName();
    expect(temp.startsWith(GRIDFS_TEMP_PREFIX)).toBe(true);
    expect(() => assertBlobKey(temp)).toThrow(InvalidBlobKeyError);
    expect(gridFsPrefixFilter('').filename.test(temp)).toBe(false);
    expect(gridFsPrefixFilter('').filename.test('assets/a/b/0')).toBe(true);
  });
});
