import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidBlobKeyError } from '../../src/infrastructure/blob-store/blob-store.port.js';
import {
  IntegrityError,
  ObjectNotFoundError,
  type RepositoryListing,
  type RepositoryStore,
  RepositoryStoreError,
} from '../../src/infrastructure/repository-store/repository-store.port.js';

/** What the contract needs besides the store: a look at the store's side, to see what a put left there. */
export interface RepositoryStoreFixture {
  store: RepositoryStore;
  /** Bytes of `key` the store holds so far while its put runs (parts completed, the temp file's size). */
  receivedBytes(key: string): Promise<number>;
  /** Unfinished uploads under `prefix` (S3 multipart uploads by key, temp files by path). */
  pendingUploads(prefix: string): Promise<string[]>;
  /** Leaves an unfinished upload of `key` behind, as a process killed mid-put does. */
  leaveStaleUpload(key: string): Promise<void>;
  /** The most a put may have read from its source beyond what the store holds: its memory bound. */
  readAheadLimit: number;
  /** A size that takes several parts (S3) and is well above `readAheadLimit`. */
  largeBytes: number;
  close(): Promise<void>;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/**
 * `size` random bytes made as they are read (never held whole), hashed on the way, with a hook that
 * runs before each chunk is handed out: the memory test looks at the store from there.
 */
function generated(size: number, beforeChunk?: (pulled: number) => Promise<void>) {
  const hash = createHash('sha256');
  const CHUNK = 256 * 1024;
  let pulled = 0;
  const stream = Readable.from(
    (async function* () {
      while (pulled < size) {
        await beforeChunk?.(pulled);
        const chunk = randomBytes(Math.min(CHUNK, size - pulled));
        hash.update(chunk);
        pulled += chunk.length;
        yield chunk;
      }
    })(),
  );
  return { stream, digest: () => hash.digest('hex'), pulled: () => pulled };
}

export function repositoryStoreContract(name: string, setup: () => Promise<RepositoryStoreFixture>): void {
  describe(`RepositoryStore contract: ${name}`, () => {
    let fixture: RepositoryStoreFixture;
    let store: RepositoryStore;
    let base: string;
    const key = (k: string) => `${base}/${k}`;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture?.close();
    });
    // A fresh folder of keys per test, so tests never see each other's objects.
    const fresh = () => {
      base = `contract-${randomUUID()}`;
    };

    it('streams a large object in and out with memory flat, verified', async () => {
      fresh();
      const target = key('large/archive.zip');
      let maxReadAhead = 0;
      let sawProgress = false;
      // Before every fourth chunk (each MiB): how far the put has read ahead of what the store holds.
      const source = generated(fixture.largeBytes, async (pulled) => {
        if (pulled % (1024 * 1024) !== 0) return;
        const received = await fixture.receivedBytes(target);
        if (received > 0) sawProgress = true;
        maxReadAhead = Math.max(maxReadAhead, pulled - received);
      });
      const result = await store.put(target, source.stream);
      expect(result).toMatchObject({ size: fixture.largeBytes, sha256: source.digest() });
      expect(['sha256-checksum', 'md5-etag', 'read-back']).toContain(result.verifiedBy);
      // The store held bytes while the source was still being read, and the put never ran further ahead than its bound.
      expect(sawProgress).toBe(true);
      expect(maxReadAhead).toBeLessThanOrEqual(fixture.readAheadLimit);
      expect(fixture.readAheadLimit).toBeLessThan(fixture.largeBytes);

      const info = await store.head(target);
      expect(info).toMatchObject({ key: target, size: fixture.largeBytes });
      expect(info!.lastModified).toBeInstanceOf(Date);
      expect(Number.isNaN(info!.lastModified.getTime())).toBe(false);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.get(target)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect({ size, sha256: hash.digest('hex') }).toEqual({ size: fixture.largeBytes, sha256: result.sha256 });
      expect(await fixture.pendingUploads(base)).toEqual([]);
    });

    it('stores small and empty objects', async () => {
      fresh();
      const bytes = randomBytes(3000);
      expect(await store.put(key('small'), Readable.from([bytes]))).toMatchObject({ size: 3000, sha256: sha256(bytes) });
      expect((await readAll(await store.get(key('small')))).equals(bytes)).toBe(true);
      expect(await store.put(key('empty'), Readable.from([]))).toMatchObject({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await readAll(await store.get(key('empty')))).length).toBe(0);
      expect(await store.head(key('empty'))).toMatchObject({ size: 0 });
    });

    it('reads ranges: the first bytes, the middle, to the end, and the last bytes', async () => {
      fresh();
      const bytes = randomBytes(100_000);
      await store.put(key('ranged'), Readable.from([bytes]));
      const read = async (range: Parameters<RepositoryStore['get']>[1]) => readAll(await store.get(key('ranged'), range));
      expect((await read({ start: 0, end: 99 })).equals(bytes.subarray(0, 100))).toBe(true);
      expect((await read({ start: 40_000, end: 59_999 })).equals(bytes.subarray(40_000, 60_000))).toBe(true);
      expect((await read({ start: 99_990 })).equals(bytes.subarray(99_990))).toBe(true);
      expect((await read({ suffix: 1234 })).equals(bytes.subarray(100_000 - 1234))).toBe(true);
      // A suffix longer than the object is the whole object; an end past the end stops at the end.
      expect((await read({ suffix: 500_000 })).equals(bytes)).toBe(true);
      expect((await read({ start: 99_000, end: 200_000 })).equals(bytes.subarray(99_000))).toBe(true);
      await expect(store.get(key('ranged'), { start: 100_000 })).rejects.toMatchObject({ reason: 'invalid-range' });
      await expect(store.get(key('ranged'), { start: 10, end: 5 })).rejects.toMatchObject({ reason: 'invalid-range' });
    });

    it('answers for missing objects: head undefined, get ObjectNotFoundError', async () => {
      fresh();
      expect(await store.head(key('nope'))).toBeUndefined();
      await expect(store.get(key('nope'))).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get(key('nope'))).rejects.toMatchObject({ key: key('nope'), reason: 'not-found' });
    });

    it('lists under a prefix on whole segments, page by page', async () => {
      fresh();
      const keys = Array.from({ length: 23 }, (_, i) => key(`many/${String(i).padStart(3, '0')}`));
      await Promise.all(keys.map((k, i) => store.put(k, Readable.from([Buffer.alloc(i + 1, i)]))));
      await store.put(key('manyx/other'), Readable.from([Buffer.from('x')]));
      await store.put(key('many-also'), Readable.from([Buffer.from('y')]));
      const listed: RepositoryListing[] = await collect(store.list(key('many'), { pageSize: 5 }));
      expect(listed.map((l) => l.key).sort()).toEqual(keys);
      expect(listed.find((l) => l.key === keys[6])).toMatchObject({ size: 7 });
      expect(listed.every((l) => l.lastModified instanceof Date)).toBe(true);
      expect((await collect(store.list(`${key('many')}/`))).length).toBe(23);
      expect((await collect(store.list(base))).length).toBe(25);
      expect(await collect(store.list(key('nothing-here')))).toEqual([]);
      await expect(collect(store.list('../x'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    });

    it('replaces an object put again under the same key', async () => {
      fresh();
      await store.put(key('k'), Readable.from([Buffer.from('first')]));
      await store.put(key('k'), Readable.from([Buffer.from('second, longer')]));
      expect((await readAll(await store.get(key('k')))).toString()).toBe('second, longer');
    });

    it('deletes idempotently: twice, and a key that never was', async () => {
      fresh();
      await store.put(key('d/1'), Readable.from([Buffer.from('1')]));
      await store.put(key('d/2'), Readable.from([Buffer.from('2')]));
      await store.delete(key('d/1'));
      await store.delete(key('d/1'));
      await store.delete(key('never/was'));
      expect(await store.head(key('d/1'))).toBeUndefined();
      expect(await store.head(key('d/2'))).toMatchObject({ size: 1 });
    });

    it('leaves no object and no unfinished upload when the source fails midway', async () => {
      fresh();
      const target = key('killed/archive.zip');
      const source = new PassThrough();
      const put = store.put(target, source);
      // Enough for some parts to reach the store before the source dies.
      let written = 0;
      while (written < fixture.readAheadLimit) {
        const chunk = randomBytes(256 * 1024);
        written += chunk.length;
        if (!source.write(chunk)) await new Promise((resolve) => source.once('drain', resolve));
      }
      source.destroy(new Error('the archive writer crashed'));
      await expect(put).rejects.toThrow('the archive writer crashed');
      expect(await store.head(target)).toBeUndefined();
      expect(await collect(store.list(base))).toEqual([]);
      expect(await fixture.pendingUploads(base)).toEqual([]);
    });

    it('fails a put whose bytes are not the SHA-256 the caller expected, and leaves nothing', async () => {
      fresh();
      const bytes = randomBytes(10_000);
      const error = await store.put(key('wrong'), Readable.from([bytes]), { sha256: sha256(Buffer.from('other')) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toContain(sha256(bytes));
      expect(await store.head(key('wrong'))).toBeUndefined();
      expect(await fixture.pendingUploads(base)).toEqual([]);
      expect(await store.put(key('right'), Readable.from([bytes]), { sha256: sha256(bytes).toUpperCase() })).toMatchObject({ sha256: sha256(bytes) });
    });

    it('refuses keys that could escape the repository, and destroys their source', async () => {
      for (const bad of ['', '../x', 'a/../../x', '/abs', 'a\\b', 'a//b', 'a/', '.appvault-probe/x', 'a/.hidden', 'line\nbreak']) {
        const source = Readable.from([Buffer.from('x')]);
        await expect(store.put(bad, source), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        expect(source.destroyed).toBe(true);
        await expect(store.get(bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.head(bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.delete(bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      }
    });

    it('sweeps unfinished uploads older than asked, and only those', async () => {
      fresh();
      await store.put(key('kept'), Readable.from([Buffer.from('complete')]));
      await fixture.leaveStaleUpload(key('abandoned.zip'));
      expect(await fixture.pendingUploads(base)).toHaveLength(1);
      // Younger than an hour: another process may still be writing it.
      await store.sweepStaleUploads(3_600_000);
      expect(await fixture.pendingUploads(base)).toHaveLength(1);
      expect(await store.sweepStaleUploads(0)).toBeGreaterThanOrEqual(1);
      expect(await fixture.pendingUploads(base)).toEqual([]);
      expect((await readAll(await store.get(key('kept')))).toString()).toBe('complete');
    });

    it('serves concurrent puts of different keys independently', async () => {
      fresh();
      const objects = Array.from({ length: 6 }, (_, i) => ({ k: key(`c/${i}`), bytes: randomBytes(20_000 + i) }));
      const results = await Promise.all(objects.map((o) => store.put(o.k, Readable.from([o.bytes]))));
      results.forEach((r, i) => expect(r.sha256).toBe(sha256(objects[i]!.bytes)));
      for (const o of objects) expect((await readAll(await store.get(o.k))).equals(o.bytes)).toBe(true);
    });

    it('probes: writes, reads and deletes a test object, and leaves nothing a listing shows', async () => {
      fresh();
      const result = await store.probe();
      expect(result.ok).toBe(true);
      const steps = result.steps.map((s) => s.step);
      expect(steps).toEqual(expect.arrayContaining(['write', 'read', 'delete']));
      expect(result.steps.every((s) => s.ok && s.message.length > 10)).toBe(true);
      expect((await collect(store.list(''))).filter((l) => l.key.includes('probe'))).toEqual([]);
    });

    it('names the repository in errors, never a secret', async () => {
      fresh();
      const error = (await store.get(key('absent')).catch((e: unknown) => e)) as RepositoryStoreError;
      expect(error).toBeInstanceOf(RepositoryStoreError);
      expect(error.message).toContain(store.location);
      expect(store.location).not.toMatch(/secret/i);
    });
  });
}
