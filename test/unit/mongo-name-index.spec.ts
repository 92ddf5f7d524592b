import { describe, expect, it } from 'vitest';
import { Lease } from '../../src/infrastructure/name-index/lease.js';
import { claimId, MongoNameIndex } from '../../src/infrastructure/name-index/mongo-name-index.adapter.js';
import { claims, NameUnavailableError, ReservationLostError } from '../../src/infrastructure/name-index/name-index.port.js';
import { FakeMongo } from '../support/fake-mongo.js';
import { duplicateKeyError } from '../support/fake-mongo-engine.js';

const TTL = 10_000;
const TWO_MINUTES = 120_000;

// The clients here keep their own (real) clocks; the stand-in's server clock is moved instead, so
// each client's clock is two minutes off the server's. Expiry must follow the server's clock only.
describe.each([
  ['behind', TWO_MINUTES],
  ['ahead of', -TWO_MINUTES],
])("MongoDB NameIndex whose clock runs two minutes %s the server's", (_, serverAheadMs) => {
  it('neither takes a live lease nor keeps a dead one', async () => {
    const fake = new FakeMongo();
    fake.clock.shift(serverAheadMs);
    const holderIndex = new MongoNameIndex(fake.connection);
    const otherIndex = new MongoNameIndex(fake.connection);
    const projector = claims.projector();

    const held = await Lease.acquire(holderIndex, projector, { ttlMs: TTL, holder: 'process-a' });
    // Live by the server's clock: its holder renews it, another process is refused it.
    await holderIndex.renew(projector, held.token, TTL);
    await expect(Lease.acquire(otherIndex, projector, { ttlMs: TTL, holder: 'process-b' })).rejects.toBeInstanceOf(NameUnavailableError);
    await expect(otherIndex.reserve(projector, TTL, 'process-b')).rejects.toMatchObject({ reason: 'reserved', holder: 'process-a' });
    expect(await otherIndex.lookup(projector)).toMatchObject({ state: 'reserved', holder: 'process-a' });
    await expect(otherIndex.handOver(projector, 'a-guessed-token', TTL, 'process-b')).rejects.toBeInstanceOf(ReservationLostError);

    // The server's time passes the lease's expiry (the clients' clocks hardly move): it is dead.
    fake.clock.shift(TTL + 1);
    await expect(holderIndex.renew(projector, held.token, TTL)).rejects.toBeInstanceOf(ReservationLostError);
    await expect(holderIndex.handOver(projector, held.token, TTL, 'process-a')).rejects.toBeInstanceOf(ReservationLostError);
    expect(await otherIndex.lookup(projector)).toBeUndefined();
    const taken = await Lease.acquire(otherIndex, projector, { ttlMs: TTL, holder: 'process-b' });
    expect(await holderIndex.lookup(projector)).toMatchObject({ state: 'reserved', holder: 'process-b' });
    await expect(holderIndex.renew(projector, held.token, TTL)).rejects.toBeInstanceOf(ReservationLostError);
    held.forget();
    await taken.release();
    expect(await holderIndex.lookup(projector)).toBeUndefined();
  });
});

describe('MongoDB NameIndex: two processes creating the same claim at once', () => {
  it("tries again when the server refused its insert as a duplicate _id (another process's insert came first)", async () => {
    const fake = new FakeMongo();
    const index = new MongoNameIndex(fake.connection);
    const claim = claims.appName('shop');
    const refused = () => duplicateKeyError('claims', { name: '_id_', key: { _id: 1 } }, { _id: claimId(claim) });
    fake.failWhen((call) => call.op === 'findOneAndUpdate', refused());
    const token = await index.reserve(claim, TTL, 'job-1');
    expect(await index.lookup(claim)).toMatchObject({ state: 'reserved', holder: 'job-1' });
    expect(fake.calls.filter((call) => call.op === 'findOneAndUpdate')).toHaveLength(2);
    await index.commit(claim, token, 'app-1');

    // It gives up after a few attempts, with the server's error (not a refusal it cannot vouch for).
    const other = claims.appName('blog');
    for (let n = 0; n < 3; n++) fake.failWhen((call) => call.op === 'findOneAndUpdate', refused());
    await expect(index.reserve(other, TTL)).rejects.toMatchObject({ code: 11000 });
    expect(await index.lookup(other)).toBeUndefined();
  });
});

describe('MongoDB NameIndex: app names kept by earlier versions', () => {
  it('moves the name_index documents into claims once, keeping a claim that exists already', async () => {
    const fake = new FakeMongo();
    fake.seed('name_index', [
      { _id: 'shop', state: 'committed', appId: 'app-1', token: 't1', expiresAt: null },
      { _id: 'blog', state: 'committed', appId: 'app-2', token: 't2', expiresAt: null },
    ]);
    const blog = claims.appName('blog');
    fake.seed('claims', [{ _id: claimId(blog), ...blog, state: 'committed', owner: 'app-3', holder: null, token: 't3', expiresAt: null }]);
    const index = new MongoNameIndex(fake.connection);
    expect(await index.lookup(claims.appName('shop'))).toMatchObject({ state: 'committed', owner: 'app-1' });
    await expect(index.reserve(claims.appName('shop'), TTL)).rejects.toMatchObject({ reason: 'taken' });
    // $setOnInsert: a claim already in claims is left as it is.
    expect(await index.lookup(blog)).toMatchObject({ owner: 'app-3' });
    expect(fake.documents('name_index')).toEqual([]);
  });
});
