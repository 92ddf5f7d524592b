import { describe, expect, it, vi } from 'vitest';
import { mongo } from 'mongoose';
import { FakeMongo } from '../support/fake-mongo.js';
import { NotImplementedByStandIn } from '../support/fake-mongo-engine.js';

// The MongoDB stand-in's own rules, each as the server documents it: the adapters' tests are only
// as good as the stand-in's answers to what they ask.

interface Claim {
  _id: string;
  state?: string;
  expiresAt?: number | null;
  holder?: string | null;
  n?: number;
  at?: Date;
  tags?: string[];
}

const open = () => {
  const fake = new FakeMongo();
  return { fake, claims: fake.db.collection<Claim>('claims') };
};

const nowMs = { $toLong: '$$NOW' };

describe('MongoDB stand-in: $$NOW is the server\'s clock', () => {
  it('takes $$NOW from its own clock, which a faked client clock does not move and clock.shift does', async () => {
    const { fake, claims } = open();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2001-01-01T00:00:00Z'));
      await claims.updateOne({ _id: 'a' }, [{ $set: { expiresAt: nowMs } }], { upsert: true });
      const first = (await claims.findOne({ _id: 'a' }))!.expiresAt!;
      expect(Math.abs(first - (performance.timeOrigin + performance.now()))).toBeLessThan(60_000);
      fake.clock.shift(120_000);
      await claims.updateOne({ _id: 'a' }, [{ $set: { expiresAt: nowMs } }]);
      expect((await claims.findOne({ _id: 'a' }))!.expiresAt! - first).toBeGreaterThanOrEqual(120_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives $$NOW one value for a whole operation', async () => {
    const { claims } = open();
    for (let n = 0; n < 200; n++) await claims.insertOne({ _id: `c${n}`, n });
    await claims.updateMany({}, [{ $set: { expiresAt: nowMs, at: '$$NOW' } }]);
    const stamps = new Set((await claims.find({}).toArray()).map((c) => c.expiresAt));
    expect(stamps.size).toBe(1);
    const [doc] = await claims.find({}).limit(1).toArray();
    expect(doc!.at).toBeInstanceOf(Date);
    expect(doc!.at!.getTime()).toBe(doc!.expiresAt);
  });

  it('evaluates $$NOW in $expr filters and aggregations; as a plain filter value it is a string', async () => {
    const { fake, claims } = open();
    await claims.updateOne({ _id: 'a' }, [{ $set: { expiresAt: { $add: [nowMs, 1000] } } }], { upsert: true });
    await claims.insertOne({ _id: 'literal', holder: '$$NOW' });
    const live = { $expr: { $gt: ['$expiresAt', nowMs] } };
    expect(await claims.countDocuments(live)).toBe(1);
    expect((await claims.aggregate([{ $match: { _id: 'a' } }, { $addFields: { live: { $gt: ['$expiresAt', nowMs] } } }]).toArray())[0]).toMatchObject({ live: true });
    expect((await claims.findOne({ holder: '$$NOW' }))?._id).toBe('literal');
    fake.clock.shift(1001);
    expect(await claims.countDocuments(live)).toBe(0);
    expect((await claims.aggregate([{ $match: { _id: 'a' } }, { $addFields: { live: { $gt: ['$expiresAt', nowMs] } } }]).toArray())[0]).toMatchObject({ live: false });
    // $literal keeps its argument as it is.
    expect((await claims.aggregate([{ $match: { _id: 'a' } }, { $project: { word: { $literal: '$$NOW' } } }]).toArray())[0]).toEqual({ _id: 'a', word: '$$NOW' });
  });

  it('refuses the system variables it does not implement, naming them', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a' });
    await expect(claims.aggregate([{ $addFields: { t: '$$CLUSTER_TIME' } }]).toArray()).rejects.toThrow(/does not implement the system variable \$\$CLUSTER_TIME/);
  });
});

describe('MongoDB stand-in: expressions compare by the BSON order', () => {
  it('orders values of different types as the server does (missing < null < numbers < strings), where mingo would answer false', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', expiresAt: null, n: 5 });
    const [row] = await claims
      .aggregate([
        {
          $project: {
            numberOverNull: { $gt: ['$n', null] },
            nullUnderNumber: { $lt: ['$expiresAt', 0] },
            missingUnderNull: { $lt: ['$nothing', null] },
            missingIsNotNull: { $eq: ['$nothing', null] },
            stringOverNumber: { $gt: ['a', 5] },
            order: { $cmp: [5, 'a'] },
          },
        },
      ])
      .toArray();
    expect(row).toEqual({ _id: 'a', numberOverNull: true, nullUnderNumber: true, missingUnderNull: true, missingIsNotNull: false, stringOverNumber: true, order: -1 });
  });
});

describe('MongoDB stand-in: updates', () => {
  it('runs update pipelines ($set, $unset, $addFields, $project, $replaceWith) and refuses other stages there', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', state: 'reserved', holder: 'h', n: 1 });
    await claims.updateOne({ _id: 'a' }, [{ $set: { n: { $add: ['$n', 1] } } }, { $unset: 'holder' }, { $addFields: { copy: '$n' } }]);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'reserved', n: 2, copy: 2 });
    await claims.updateOne({ _id: 'a' }, [{ $project: { state: 1 } }]);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'reserved' });
    await claims.updateOne({ _id: 'a' }, [{ $replaceWith: { $cond: [{ $eq: ['$state', 'reserved'] }, { _id: '$_id', state: 'committed' }, '$$ROOT'] } }]);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'committed' });
    await expect(claims.updateOne({ _id: 'a' }, [{ $match: { state: 'x' } }])).rejects.toMatchObject({ code: 72 });
    await expect(claims.updateOne({ _id: 'a' }, [{ $lookup: { from: 'x' } }])).rejects.toMatchObject({ code: 72 });
  });

  it('reads a string starting with $ in a pipeline as a field path, as the server does ($literal keeps it)', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', state: 'reserved' });
    await claims.updateOne({ _id: 'a' }, [{ $set: { holder: '$state', n: { $literal: '$state' } } }]);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'reserved', holder: 'reserved', n: '$state' });
  });

  it('upserts from the filter\'s equality fields, applies $setOnInsert only on insert, and reports what it did', async () => {
    const { claims } = open();
    const first = await claims.updateOne({ _id: 'a', state: { $eq: 'reserved' }, n: { $gt: 3 } }, { $set: { holder: 'h' }, $setOnInsert: { expiresAt: 1 } }, { upsert: true });
    expect(first).toEqual({ acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId: 'a' });
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'reserved', holder: 'h', expiresAt: 1 });
    const again = await claims.updateOne({ _id: 'a' }, { $set: { holder: 'g' }, $setOnInsert: { expiresAt: 2 } }, { upsert: true });
    expect(again).toEqual({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', state: 'reserved', holder: 'g', expiresAt: 1 });
    // The same value again changes nothing.
    expect(await claims.updateOne({ _id: 'a' }, { $set: { holder: 'g' } })).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
    // Without an _id in the filter the new document gets an ObjectId.
    const made = await claims.updateOne({ holder: 'new' } as Partial<Claim>, { $set: { n: 1 } }, { upsert: true });
    expect(made.upsertedId).toBeInstanceOf(mongo.ObjectId);
  });

  it('refuses $expr in an upsert\'s filter, matching or not (the server\'s QueryFeatureNotAllowed)', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', expiresAt: 0 });
    for (const id of ['a', 'b']) {
      const upsert = claims.updateOne({ _id: id, $expr: { $lte: ['$expiresAt', nowMs] } }, [{ $set: { n: 1 } }], { upsert: true });
      await expect(upsert).rejects.toBeInstanceOf(mongo.MongoServerError);
      await expect(upsert).rejects.toMatchObject({ code: 224, message: '$expr is not allowed in the query predicate for an upsert' });
    }
    await expect(claims.findOneAndUpdate({ $and: [{ _id: 'a' }, { $expr: true }] }, { $set: { n: 1 } }, { upsert: true })).rejects.toMatchObject({ code: 224 });
    // Without upsert it is an ordinary filter.
    expect(await claims.updateOne({ _id: 'a', $expr: { $lte: ['$expiresAt', nowMs] } }, [{ $set: { n: 1 } }])).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
  });

  it('refuses a change of _id, conflicting paths, and updates without operators, as the server and driver do', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', n: 1 });
    await expect(claims.updateOne({ _id: 'a' }, { $set: { _id: 'b' } })).rejects.toMatchObject({ code: 66 });
    await expect(claims.updateOne({ _id: 'a' }, [{ $set: { _id: 'b' } }])).rejects.toMatchObject({ code: 66 });
    await expect(claims.replaceOne({ _id: 'a' }, { _id: 'b', n: 2 } as Claim)).rejects.toMatchObject({ code: 66 });
    expect(await claims.updateOne({ _id: 'a' }, { $set: { _id: 'a', n: 2 } })).toMatchObject({ modifiedCount: 1 });
    await expect(claims.updateOne({ _id: 'a' }, { $set: { n: 1 }, $inc: { n: 1 } })).rejects.toMatchObject({ code: 40 });
    await expect(claims.updateOne({ _id: 'a' }, { $set: { n: 1 }, $setOnInsert: { n: 2 } }, { upsert: true })).rejects.toMatchObject({ code: 40 });
    await expect(claims.updateOne({ _id: 'a' }, { n: 3 } as never)).rejects.toBeInstanceOf(mongo.MongoInvalidArgumentError);
    await expect(claims.updateOne({ _id: 'a' }, { $frobnicate: { n: 3 } } as never)).rejects.toMatchObject({ code: 9 });
    await expect(claims.replaceOne({ _id: 'a' }, { $set: { n: 3 } } as never)).rejects.toBeInstanceOf(mongo.MongoInvalidArgumentError);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', n: 2 });
  });

  it('findOneAndUpdate: before by default, after on request, upserts, projects and sorts', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', n: 1, state: 'x' });
    await claims.insertOne({ _id: 'b', n: 2, state: 'x' });
    expect(await claims.findOneAndUpdate({ _id: 'a' }, { $inc: { n: 10 } })).toEqual({ _id: 'a', n: 1, state: 'x' });
    expect(await claims.findOneAndUpdate({ _id: 'a' }, { $inc: { n: 10 } }, { returnDocument: 'after', projection: { n: 1, _id: 0 } })).toEqual({ n: 21 });
    expect(await claims.findOneAndUpdate({ state: 'x' }, { $set: { holder: 'top' } }, { sort: { n: -1 }, returnDocument: 'after' })).toMatchObject({ _id: 'a', holder: 'top' });
    expect(await claims.findOneAndUpdate({ _id: 'c' }, { $set: { n: 3 } })).toBeNull();
    expect(await claims.findOneAndUpdate({ _id: 'c' }, { $set: { n: 3 } }, { upsert: true })).toBeNull();
    expect(await claims.findOneAndUpdate({ _id: 'd' }, [{ $set: { n: 4 } }], { upsert: true, returnDocument: 'after' })).toEqual({ _id: 'd', n: 4 });
    const withMetadata = await claims.findOneAndUpdate({ _id: 'e' }, { $set: { n: 5 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
    expect(withMetadata).toEqual({ ok: 1, value: { _id: 'e', n: 5 }, lastErrorObject: { n: 1, updatedExisting: false, upserted: 'e' } });
  });
});

describe('MongoDB stand-in: keys', () => {
  it('refuses a second document with the same _id as the driver\'s MongoServerError 11000, from inserts and upserts', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', state: 'committed' });
    const insert = claims.insertOne({ _id: 'a' });
    await expect(insert).rejects.toBeInstanceOf(mongo.MongoServerError);
    await expect(insert).rejects.toMatchObject({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 'a' } });
    // An upsert whose filter misses the existing document inserts it again: the unique _id refuses.
    await expect(claims.updateOne({ _id: 'a', state: 'reserved' }, { $set: { n: 1 } }, { upsert: true })).rejects.toMatchObject({ code: 11000 });
    expect(await claims.find({}).toArray()).toEqual([{ _id: 'a', state: 'committed' }]);
  });

  it('enforces unique secondary indexes and reports write errors of a bulk write as the driver\'s MongoBulkWriteError', async () => {
    const { fake } = open();
    const chunks = fake.db.collection<{ _id: number; files_id: number; n: number }>('chunks');
    await chunks.createIndex({ files_id: 1, n: 1 }, { unique: true });
    await chunks.insertOne({ _id: 1, files_id: 7, n: 0 });
    await expect(chunks.insertOne({ _id: 2, files_id: 7, n: 0 })).rejects.toMatchObject({ code: 11000, keyValue: { files_id: 7, n: 0 } });
    const bulk = chunks.bulkWrite([{ insertOne: { document: { _id: 3, files_id: 7, n: 1 } } }, { insertOne: { document: { _id: 1, files_id: 8, n: 0 } } }, { insertOne: { document: { _id: 4, files_id: 9, n: 0 } } }]);
    await expect(bulk).rejects.toBeInstanceOf(mongo.MongoBulkWriteError);
    await expect(bulk).rejects.toMatchObject({ code: 11000, insertedCount: 1 });
    // Ordered (the default): the write after the failed one was not done.
    expect((await chunks.find({}).toArray()).map((c) => c._id)).toEqual([1, 3]);
  });
});

describe('MongoDB stand-in: strict about what it does not implement', () => {
  it('throws, naming them, for options, stages, query operators and positional paths it does not implement', async () => {
    const { claims } = open();
    await claims.insertOne({ _id: 'a', tags: ['x'] });
    await expect(claims.updateOne({ _id: 'a' }, { $set: { n: 1 } }, { collation: { locale: 'fr' } })).rejects.toThrow(/does not implement the option "collation" of updateOne/);
    await expect(claims.findOne({ _id: 'a' }, { hint: { _id: 1 } })).rejects.toThrow(NotImplementedByStandIn);
    await expect(claims.aggregate([{ $group: { _id: null } }]).toArray()).rejects.toThrow(/does not implement the stage \$group in aggregate/);
    await expect(claims.find({ $where: 'true' }).toArray()).rejects.toThrow(/does not implement the query operator \$where/);
    await expect(claims.updateOne({ _id: 'a', tags: 'x' }, { $set: { 'tags.$': 'y' } })).rejects.toThrow(/does not implement the positional path "tags\.\$"/);
    await expect(claims.updateOne({ $or: [{ _id: 'b' }, { _id: 'c' }] }, { $set: { n: 1 } }, { upsert: true })).rejects.toThrow(/does not implement \$or in the filter of an upsert/);
    expect(await claims.findOne({ _id: 'a' })).toEqual({ _id: 'a', tags: ['x'] });
  });

  it('refuses a session that has ended, as the driver does', async () => {
    const { fake, claims } = open();
    const session = fake.connection.getClient().startSession();
    await session.endSession();
    await expect(claims.findOne({ _id: 'a' }, { session })).rejects.toBeInstanceOf(mongo.MongoExpiredSessionError);
  });
});
