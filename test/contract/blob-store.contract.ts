import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  InvalidBlobKeyError,
} from '../../src/infrastructure/blob-store/blob-store.port.js';

export interface BlobStoreFixture {
  store: BlobStore;
  close(): Promise<void>;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Yields `total` pseudo-random bytes in chunks, so big blobs never sit in the test's memory whole. */
function generated(total: number, chunk = 64 * 1024): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk, total - sent);
      const bytes = randomBytes(size);
      hash.update(bytes);
      sent += size;
      this.push(bytes);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/**
 * What every BlobStore adapter must do. Each test works under its own random prefix, so adapters
 * backed by a shared server (GridFS) can run it without a fresh database per test.
 */
export function blobStoreContract(name: string, create: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    let base: string;
    const key = (rest: string) => `${base}/${rest}`;

    beforeEach(async () => {
      fixture = await create();
      store = fixture.store;
      base = `contract-${randomUUID()}`;
    });
    afterEach(async () => {
      await store.deletePrefix(base).catch(() => undefined);
      await fixture.close();
    });

    it('stores a stream and reports its size and SHA-256; reads it back byte for byte', async () => {
      const bytes = randomBytes(100_000);
      const result = await store.put(key('a/one'), Readable.from([bytes.subarray(0, 30_000), bytes.subarray(30_000)]));
      expect(result).toEqual({ size: bytes.length, sha256: sha256(bytes) });
      expect((await readAll(await store.get(key('a/one')))).equals(bytes)).toBe(true);
      expect(await store.stat(key('a/one'))).toEqual({ key: key('a/one'), size: bytes.length, modified: expect.any(Date) });
      expect(await store.exists(key('a/one'))).toBe(true);
    });

    it('reads a byte range, both ends inclusive, also across chunk boundaries', async () => {
      const bytes = randomBytes(600_000);
      await store.put(key('ranged'), Readable.from([bytes]));
      for (const [start, end] of [[0, 0], [0, 9], [10, 299_999], [261_000, 599_999], [599_999, 599_999]] as const) {
        expect((await readAll(await store.get(key('ranged'), { start, end }))).equals(bytes.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      }
    });

    it('streams blobs of several megabytes', async () => {
      const source = generated(6 * 1024 * 1024 + 123);
      const result = await store.put(key('big'), source.stream);
      expect(result).toEqual({ size: 6 * 1024 * 1024 + 123, sha256: source.digest() });
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.get(key('big'))) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect({ size, sha256: hash.digest('hex') }).toEqual(result);
    });

    it('stores an empty blob', async () => {
      const result = await store.put(key('empty'), Readable.from([]));
      expect(result).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await readAll(await store.get(key('empty')))).length).toBe(0);
      expect(await store.exists(key('empty'))).toBe(true);
    });

    it('replaces a blob put again under the same key', async () => {
      await store.put(key('k'), Readable.from([Buffer.from('first')]));
      await store.put(key('k'), Readable.from([Buffer.from('second, longer')]));
      expect((await readAll(await store.get(key('k')))).toString()).toBe('second, longer');
      expect((await collect(store.list(base))).map((b) => b.key)).toEqual([key('k')]);
    });

    it('reports missing blobs: get rejects with BlobNotFoundError, stat is undefined, exists is false', async () => {
      await expect(store.get(key('nope'))).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(store.get(key('nope'))).rejects.toMatchObject({ key: key('nope') });
      expect(await store.stat(key('nope'))).toBeUndefined();
      expect(await store.exists(key('nope'))).toBe(false);
      // A prefix of other blobs is not a blob either.
      await store.put(key('dir/file'), Readable.from([Buffer.from('x')]));
      await expect(store.get(key('dir'))).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.exists(key('dir'))).toBe(false);
    });

    it('refuses a blob over maxBytes with BlobTooLargeError and leaves nothing behind', async () => {
      const source = generated(300_000, 16 * 1024);
      const error = await store.put(key('too/large'), source.stream, { maxBytes: 100_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BlobTooLargeError);
      expect(error).toMatchObject({ key: key('too/large'), maxBytes: 100_000 });
      expect(await store.exists(key('too/large'))).toBe(false);
      expect(await collect(store.list(base))).toEqual([]);
      expect(await collect(store.list(''))).not.toContainEqual(expect.objectContaining({ key: key('too/large') }));
    });

    it('accepts a blob of exactly maxBytes', async () => {
      const bytes = randomBytes(4096);
      expect(await store.put(key('exact'), Readable.from([bytes]), { maxBytes: 4096 })).toEqual({ size: 4096, sha256: sha256(bytes) });
      await expect(store.put(key('over'), Readable.from([bytes, Buffer.from('!')]), { maxBytes: 4096 })).rejects.toBeInstanceOf(BlobTooLargeError);
    });

    it('keeps the previous blob when a replacement fails', async () => {
      await store.put(key('keep'), Readable.from([Buffer.from('original')]));
      await expect(store.put(key('keep'), Readable.from([randomBytes(5000)]), { maxBytes: 10 })).rejects.toBeInstanceOf(BlobTooLargeError);
      expect((await readAll(await store.get(key('keep')))).toString()).toBe('original');
    });

    it('rejects with the source error when the source fails midway, and leaves nothing behind', async () => {
      const source = new PassThrough();
      const put = store.put(key('broken'), source);
      source.write(randomBytes(50_000));
      await new Promise((r) => setTimeout(r, 50));
      source.destroy(new Error('client went away'));
      await expect(put).rejects.toThrow('client went away');
      expect(await store.exists(key('broken'))).toBe(false);
      expect(await collect(store.list(base))).toEqual([]);
    });

    it('never shows a blob before it is complete', async () => {
      const source = new PassThrough();
      const put = store.put(key('slow'), source);
      source.write(randomBytes(200_000));
      await new Promise((r) => setTimeout(r, 100));
      expect(await store.exists(key('slow'))).toBe(false);
      await expect(store.get(key('slow'))).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await collect(store.list(base))).toEqual([]);
      source.end(randomBytes(10));
      expect((await put).size).toBe(200_010);
      expect(await store.exists(key('slow'))).toBe(true);
    });

    it('refuses keys that could escape the store or are not plain relative paths', async () => {
      const bad = ['', '../x', 'a/../../x', '..', '/abs/path', 'a\\b', '..\\x', 'a\0b', 'a//b', 'a/./b', 'a/', 'C:/x', '.tmp/x', 'a/.hidden', 'line\nbreak'];
      for (const k of bad) {
        await expect(store.put(k, Readable.from([Buffer.from('x')])), JSON.stringify(k)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.get(k), JSON.stringify(k)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.stat(k), JSON.stringify(k)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.exists(k), JSON.stringify(k)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.delete(k), JSON.stringify(k)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      }
      await expect(store.deletePrefix('')).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.deletePrefix('../')).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(collect(store.list('../x'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    });

    it('accepts keys with unusual but harmless characters', async () => {
      const odd = key('Ünïcode name with spaces (1)/v.2~x');
      await store.put(odd, Readable.from([Buffer.from('ok')]));
      expect((await readAll(await store.get(odd))).toString()).toBe('ok');
      expect((await collect(store.list(base))).map((b) => b.key)).toEqual([odd]);
    });

    it('deletes one blob; deleting a missing one is a no-op', async () => {
      await store.put(key('d/1'), Readable.from([Buffer.from('1')]));
      await store.put(key('d/2'), Readable.from([Buffer.from('2')]));
      await store.delete(key('d/1'));
      await store.delete(key('d/1'));
      await store.delete(key('never/was'));
      expect(await store.exists(key('d/1'))).toBe(false);
      expect(await store.exists(key('d/2'))).toBe(true);
    });

    it('deletes by prefix on whole segments only', async () => {
      for (const k of ['app1/a/0', 'app1/a/1', 'app1/b/0', 'app10/a/0', 'app1x', 'other/app1/0']) await store.put(key(k), Readable.from([Buffer.from(k)]));
      await store.deletePrefix(key('app1'));
      expect((await collect(store.list(base))).map((b) => b.key).sort()).toEqual([key('app10/a/0'), key('app1x'), key('other/app1/0')].sort());
      await store.deletePrefix(`${key('app10')}/`);
      await store.deletePrefix(key('nothing/here'));
      expect((await collect(store.list(base))).map((b) => b.key).sort()).toEqual([key('app1x'), key('other/app1/0')].sort());
    });

    it('lists blobs at or under a prefix with their sizes', async () => {
      await store.put(key('l/a/0'), Readable.from([Buffer.from('aa')]));
      await store.put(key('l/a/1'), Readable.from([Buffer.from('aaa')]));
      await store.put(key('l/b'), Readable.from([Buffer.from('b')]));
      await store.put(key('lx/c'), Readable.from([Buffer.from('c')]));
      const sorted = (items: { key: string; size: number }[]) => [...items].sort((x, y) => x.key.localeCompare(y.key));
      expect(sorted(await collect(store.list(key('l'))))).toEqual([
        { key: key('l/a/0'), size: 2, modified: expect.any(Date) },
        { key: key('l/a/1'), size: 3, modified: expect.any(Date) },
        { key: key('l/b'), size: 1, modified: expect.any(Date) },
      ]);
      expect(await collect(store.list(`${key('l/a')}/`))).toHaveLength(2);
      expect(await collect(store.list(key('l/b')))).toEqual([{ key: key('l/b'), size: 1, modified: expect.any(Date) }]);
      expect(await collect(store.list(key('missing')))).toEqual([]);
      expect((await collect(store.list(''))).map((b) => b.key)).toEqual(expect.arrayContaining([key('l/b'), key('lx/c')]));
    });

    it('keeps every complete blob when incomplete writes are removed', async () => {
      await store.put(key('done/0'), Readable.from([Buffer.from('kept')]));
      await store.removeIncomplete();
      await store.removeIncomplete();
      expect((await readAll(await store.get(key('done/0')))).toString()).toBe('kept');
    });

    it('serves concurrent puts of different keys independently', async () => {
      const blobs = Array.from({ length: 8 }, (_, i) => ({ k: key(`c/${i}`), bytes: randomBytes(20_000 + i) }));
      const results = await Promise.all(blobs.map((b) => store.put(b.k, Readable.from([b.bytes]))));
      results.forEach((r, i) => expect(r.sha256).toBe(sha256(blobs[i]!.bytes)));
      for (const b of blobs) expect((await readAll(await store.get(b.k))).equals(b.bytes)).toBe(true);
    });
  });
}
