import { describe, expect, it } from 'vitest';
import { MongoReadStore, PURGE_BATCH } from '../../src/infrastructure/read-store/mongo-read-store.adapter.js';
import { appKey, type ReadCollection } from '../../src/infrastructure/read-store/read-store.port.js';
import { FakeMongo } from '../support/fake-mongo.js';

interface Item {
  id: string;
  appId: string;
  created: string;
  title: string;
}

const open = (replicaSet = true) => {
  const mongo = new FakeMongo();
  const store = new MongoReadStore(mongo.connection, replicaSet);
  const items = store.collection<Item>('items', { indexes: [['appId', 'created']], fullText: (d) => d.title, key: (d) => appKey(d.appId, d.id) });
  return { mongo, store, items };
};

const item = (appId: string, n: number): Item => ({ id: `i${String(n).padStart(5, '0')}`, appId, created: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`, title: `item ${n}` });

async function fill(store: MongoReadStore, items: ReadCollection<Item>, appId: string, count: number): Promise<void> {
  for (let from = 0; from < count; from += 500) {
    const changes = Array.from({ length: Math.min(500, count - from) }, (_, i) => ({ put: item(appId, from + i) }));
    await store.commit([{ collection: items.name, changes }]);
  }
}

describe('MongoDB read store: removing a large app', () => {
  it('removes its documents in batches of at most PURGE_BATCH outside the transaction, which moves the checkpoint', async () => {
    const { mongo, store, items } = open();
    await fill(store, items, 'big', 2 * PURGE_BATCH + 500);
    await fill(store, items, 'small', 3);
    mongo.calls.length = 0;

    await store.commit([{ collection: items.name, changes: [{ deleteWhere: { appId: 'big' } }, { put: item('small', 7) }] }], { name: 'live', position: 42 });

    const removals = mongo.calls.filter((c) => c.op === 'deleteMany');
    const outside = removals.filter((c) => !c.inTransaction);
    expect(outside.map((c) => c.affected)).toEqual([PURGE_BATCH, PURGE_BATCH, 500]);
    for (const removal of outside) expect(removal.session).toBe(false);
    // Each batch reads keys only, from an index (projection _id), at most a batch of them.
    const reads = mongo.calls.filter((c) => c.op === 'find' && !c.inTransaction);
    expect(reads.map((c) => [c.limit, c.projection])).toEqual([
      [PURGE_BATCH, { _id: 1 }],
      [PURGE_BATCH, { _id: 1 }],
      [PURGE_BATCH, { _id: 1 }],
    ]);
    // The transaction found nothing left to remove; the put and the checkpoint went with it.
    expect(removals.filter((c) => c.inTransaction)).toEqual([]);
    expect(mongo.transactionsCommitted).toBeGreaterThan(0);
    expect(mongo.transactionOptions.at(-1)).toEqual({ readPreference: 'primary' });
    expect(await items.count({ appId: 'big' })).toBe(0);
    expect(await items.count({ appId: 'small' })).toBe(4);
    expect(await store.getCheckpoint('live')).toBe(42);
    expect(mongo.violations()).toEqual([]);
  });

  it('resumes after an interruption part-way: the checkpoint stays until everything is gone', async () => {
    const { mongo, store, items } = open();
    await fill(store, items, 'big', 2 * PURGE_BATCH + 500);
    await store.setCheckpoint('live', 10);
    let removals = 0;
    mongo.failWhen((c) => c.op === 'deleteMany' && ++removals === 2, new Error('connection lost'));

    const change = [{ collection: items.name, changes: [{ deleteWhere: { appId: 'big' } }] }];
    await expect(store.commit(change, { name: 'live', position: 42 })).rejects.toThrow('connection lost');
    expect(await items.count({ appId: 'big' })).toBe(PURGE_BATCH + 500);
    expect(await store.getCheckpoint('live')).toBe(10);

    // The projector applies the same event again.
    await store.commit(change, { name: 'live', position: 42 });
    expect(await items.count({ appId: 'big' })).toBe(0);
    expect(await items.find({ appId: 'big' }, { text: 'item' })).toEqual({ total: 0, items: [] });
    expect(await store.getCheckpoint('live')).toBe(42);
    for (const call of mongo.calls.filter((c) => c.op === 'deleteMany')) expect(call.affected ?? 0).toBeLessThanOrEqual(PURGE_BATCH);
  });

  it('removes inside the transaction what the same commit put before the deleteWhere, in steps of a batch', async () => {
    const { mongo, store, items } = open();
    const puts = Array.from({ length: PURGE_BATCH + 20 }, (_, n) => ({ put: item('fresh', n) }));
    await store.commit([{ collection: items.name, changes: [...puts, { deleteWhere: { appId: 'fresh' } }, { put: item('fresh', 99_999) }] }]);
    expect((await items.find({ appId: 'fresh' })).items.map((i) => i.id)).toEqual(['i99999']);
    const inside = mongo.calls.filter((c) => c.op === 'deleteMany' && c.inTransaction).map((c) => c.affected);
    expect(inside).toEqual([PURGE_BATCH, 20]);
    expect(mongo.violations()).toEqual([]);
  });

  it('takes at most `limit` documents in a step when asked (the engine clears apps that way)', async () => {
    const { mongo, store, items } = open(false);
    await fill(store, items, 'big', 40);
    mongo.calls.length = 0;
    await store.commit([{ collection: items.name, changes: [{ deleteWhere: { appId: 'big' }, limit: 10 }] }]);
    // Without a replica set there is no transaction: no session either, and the purge ahead took them all.
    expect(mongo.calls.every((c) => !c.session && !c.inTransaction)).toBe(true);
    expect(await items.count({ appId: 'big' })).toBe(0);
    expect(mongo.transactionsCommitted).toBe(0);
  });

  it('deleteMany outside a commit goes in batches too', async () => {
    const { mongo, store, items } = open();
    await fill(store, items, 'big', PURGE_BATCH + 1);
    mongo.calls.length = 0;
    expect(await items.deleteMany({ appId: 'big' })).toBe(PURGE_BATCH + 1);
    expect(mongo.calls.filter((c) => c.op === 'deleteMany').map((c) => c.affected)).toEqual([PURGE_BATCH, 1]);
  });
});

describe('MongoDB read store: indexes and sorts', () => {
  it('creates each declared index with the key appended, drops indexes no longer declared, and sorts by them', async () => {
    const { mongo, store, items } = open();
    mongo.setIndexes('c_items', [
      { name: '_id_', key: { _id: 1 } },
      { name: 'appId_1', key: { appId: 1 } },
      { name: 'appId_1_created_1', key: { appId: 1, created: 1 } },
    ]);
    for (let n = 0; n < 4; n++) await items.put({ ...item('a', n), created: '2026-01-01T00:00:00Z' });
    expect(mongo.indexesOf('c_items').map((index) => index.name)).toEqual(['_id_', 'appId_1_created_1__id_1', 'full_text_words']);
    // Ties go by key, descending like the sort: the page walks the index backwards.
    const page = await items.find({ appId: 'a' }, { sort: [{ field: 'created', direction: 'desc' }], top: 3 });
    expect(page.total).toBe(4);
    expect(page.items.map((i) => i.id)).toEqual(['i00003', 'i00002', 'i00001']);
    expect(mongo.calls.find((c) => c.op === 'find')?.sort).toEqual({ created: -1, _id: -1 });
    await store.close();
  });
});

describe('The recording fake itself', () => {
  it('reports an operation inside a transaction that lacks the session, or carries another', async () => {
    const mongo = new FakeMongo();
    const client = mongo.connection.getClient();
    const session = client.startSession();
    const other = client.startSession();
    const collection = mongo.db.collection('x');
    await session.withTransaction(async () => {
      await collection.findOne({ a: 1 }, { session });
      await collection.findOne({ a: 2 });
      await collection.countDocuments({ a: 3 }, { session: other });
    });
    expect(mongo.violations().map((c) => c.filter)).toEqual([{ a: 2 }, { a: 3 }]);
  });

  it('rolls a failed transaction back and refuses to build an index inside one', async () => {
    const mongo = new FakeMongo();
    const session = mongo.connection.getClient().startSession();
    const collection = mongo.db.collection<{ _id: string; n: number }>('x');
    await collection.insertOne({ _id: 'kept', n: 1 });
    await expect(
      session.withTransaction(async () => {
        await collection.insertOne({ _id: 'lost', n: 2 }, { session });
        await collection.createIndex({ n: 1 });
      }),
    ).rejects.toThrow(/inside a multi-document transaction/);
    expect(mongo.documents('x').map((d) => d._id)).toEqual(['kept']);
  });
});
