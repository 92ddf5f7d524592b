import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mongo } from 'mongoose';
import { ABANDONED_AFTER_MS, GridFsBlobStore } from '../../src/infrastructure/blob-store/gridfs-blob-store.adapter.js';
import { FakeMongo } from '../support/fake-mongo.js';

const HOUR = 60 * 60 * 1000;
/** An ObjectId made `msAgo` ago (as the driver makes them: the time, then bytes that make it unique). */
const idAt = (msAgo: number) => new mongo.ObjectId(Math.floor((Date.now() - msAgo) / 1000).toString(16).padStart(8, '0') + randomBytes(8).toString('hex'));
const chunk = (filesId: mongo.ObjectId, n: number, writtenMsAgo: number) => ({ _id: idAt(writtenMsAgo), files_id: filesId, n, data: new mongo.Binary(Buffer.from(`chunk ${n}`)) });

async function readAll(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts).toString();
}

function open() {
  const fake = new FakeMongo();
  return { fake, store: new GridFsBlobStore(fake.db), bucket: new mongo.GridFSBucket(fake.db, { bucketName: 'blobs' }) };
}

const chunkOwners = (fake: FakeMongo) => [...new Set(fake.documents('blobs.chunks').map((c) => (c['files_id'] as mongo.ObjectId).toHexString()))].sort();

describe('GridFS: chunks of uploads that never finished', () => {
  it('removes, at start-up, the chunks of an upload killed mid-way once it has written nothing for the cutoff; complete blobs stay', async () => {
    const { fake, store, bucket } = open();
    await store.put('kept/0', Readable.from([Buffer.alloc(600 * 1024, 1)]));
    // A put killed part-way: the driver wrote chunks, then the process died before the file document.
    const killed = bucket.openUploadStream('.tmp/killed');
    await new Promise<void>((resolve, reject) => killed.write(Buffer.alloc(700 * 1024, 2), (error) => (error ? reject(error) : resolve())));
    expect(chunkOwners(fake)).toHaveLength(2);

    // Too young: another process could still be writing it.
    expect(await store.sweepOrphanChunks()).toBe(0);
    expect(chunkOwners(fake)).toHaveLength(2);
    // Past the cutoff (as seen an hour and more later):
    expect(await store.sweepOrphanChunks(new Date(Date.now() + ABANDONED_AFTER_MS + 2000))).toBe(1);
    const [keptFile] = fake.documents('blobs.files');
    expect(chunkOwners(fake)).toEqual([(keptFile!['_id'] as mongo.ObjectId).toHexString()]);
    expect((await readAll(await store.get('kept/0'))).length).toBe(600 * 1024);
  });

  it('judges an upload by its newest chunk, so one another process is still writing is never taken', async () => {
    const { fake, store } = open();
    const dead = idAt(3 * HOUR);
    const slow = idAt(3 * HOUR);
    const young = idAt(60_000);
    const halfDeleted = idAt(5 * HOUR);
    fake.seed('blobs.chunks', [
      chunk(dead, 0, 3 * HOUR),
      chunk(dead, 1, 2 * HOUR),
      // Began three hours ago and still writing: its last chunk is a minute old.
      chunk(slow, 0, 3 * HOUR),
      chunk(slow, 1, 60_000),
      chunk(young, 0, 60_000),
      // Its delete was stopped after the later chunks: the first one is left.
      chunk(halfDeleted, 0, 5 * HOUR),
    ]);
    await store.removeIncomplete();
    expect(chunkOwners(fake)).toEqual([slow.toHexString(), young.toHexString()].sort());
    // Only index reads list the uploads: chunk ids of first chunks, in order, never their bytes.
    const listing = fake.calls.find((c) => c.collection === 'blobs.chunks' && c.op === 'find');
    expect(listing).toMatchObject({ filter: { n: 0 }, sort: { files_id: 1 }, projection: { _id: 0, files_id: 1 }, limit: 500 });
  });

  it('goes through every page of uploads', async () => {
    const { fake, store } = open();
    const ids = Array.from({ length: 1201 }, () => idAt(3 * HOUR));
    fake.seed(
      'blobs.chunks',
      ids.map((id) => chunk(id, 0, 3 * HOUR)),
    );
    expect(await store.sweepOrphanChunks()).toBe(1201);
    expect(fake.documents('blobs.chunks')).toEqual([]);
  });

  it('deletes a blob\'s file document first and its first chunk last, so a stop part-way leaves something the sweep finds', async () => {
    const { fake, store } = open();
    await store.put('a/0', Readable.from([Buffer.alloc(600 * 1024, 3)]));
    fake.calls.length = 0;
    await store.delete('a/0');
    const writes = fake.calls.filter((c) => c.op.startsWith('delete')).map((c) => `${c.collection} ${JSON.stringify(c.filter, (k, v: unknown) => (k === 'files_id' || k === '_id' ? 'id' : v))}`);
    expect(writes).toEqual(['blobs.files {"_id":"id"}', 'blobs.chunks {"files_id":"id","n":{"$gt":0}}', 'blobs.chunks {"files_id":"id"}']);
    expect(fake.documents('blobs.chunks')).toEqual([]);
  });
});

describe('GridFS: listing', () => {
  it('lists in the order of GridFS\'s own index and shows the newest revision of a name once', async () => {
    const { fake, store } = open();
    await store.put('k/a', Readable.from([Buffer.from('newest a')]));
    await store.put('k/b', Readable.from([Buffer.from('b')]));
    // Older revisions a put stopped before deleting them, one of them in the same millisecond with a smaller id.
    const [a] = fake.documents('blobs.files').filter((f) => f['filename'] === 'k/a');
    const uploadDate = a!['uploadDate'] as Date;
    fake.seed('blobs.files', [
      { _id: idAt(HOUR), filename: 'k/a', length: 1, chunkSize: 261120, uploadDate: new Date(uploadDate.getTime() - HOUR) },
      { _id: mongo.ObjectId.createFromTime(0), filename: 'k/a', length: 2, chunkSize: 261120, uploadDate },
    ]);
    fake.calls.length = 0;
    const listed: { key: string; size: number; modified: Date }[] = [];
    for await (const info of store.list('k')) listed.push(info);
    expect(listed).toEqual([
      { key: 'k/a', size: 'newest a'.length, modified: uploadDate },
      { key: 'k/b', size: 1, modified: expect.any(Date) },
    ]);
    expect(fake.calls.find((c) => c.collection === 'blobs.files' && c.op === 'find')?.sort).toEqual({ filename: 1, uploadDate: 1 });
  });
});
