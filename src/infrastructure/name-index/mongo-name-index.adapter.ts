import { randomUUID } from 'node:crypto';
import { type Connection, type mongo } from 'mongoose';
import { type Claim, type NameEntry, type NameIndex, NameUnavailableError, ReservationLostError, type StoreClockOptions } from './name-index.port.js';

/** One document per claim; `_id` is built from kind, scope and key, so the primary key is what makes claims unique. */
export interface ClaimDocument {
  _id: string;
  kind: Claim['kind'];
  scope: string;
  key: string;
  state: 'reserved' | 'committed';
  owner: string | null;
  holder: string | null;
  token: string | null;
  expiresAt: number | null;
}

/** Before claims were generalised: app names only, `_id` = the name. */
interface LegacyNameDocument {
  _id: string;
  state: 'reserved' | 'committed';
  appId: string | null;
  token: string | null;
  expiresAt: number | null;
}

const COLLECTION = 'claims';
const LEGACY_COLLECTION = 'name_index';
const DUPLICATE_KEY = 11000;
/** Attempts of a claim's upsert that another process's insert of the same claim refused (see upsert). */
const UPSERT_ATTEMPTS = 3;

/** JSON of the triple: unambiguous whatever the parts contain. */
export function claimId(claim: Claim): string {
  return JSON.stringify([claim.kind, claim.scope, claim.key]);
}

/**
 * Claims on MongoDB. Each operation is a single conditional write on the claim's document, so two
 * processes racing for a claim are decided by the server (one document's writes are atomic, and
 * the unique `_id` refuses a second insert), not by a read followed by a write. Expiry is judged
 * by the server's clock (`$$NOW` in the filters and in the update pipelines that set and compare
 * `expiresAt`), so replicas whose clocks disagree still agree on which reservations are live.
 */
export class MongoNameIndex implements NameIndex {
  private readonly claims: mongo.Collection<ClaimDocument>;
  private readonly db: mongo.Db;
  private readonly shift: () => number;
  private migrated?: Promise<void>;

  /** Takes an open mongoose connection (MongoReadStore.connection) or a native database. */
  constructor(database: Connection | mongo.Db, options: StoreClockOptions = {}) {
    this.db = nativeDb(database);
    this.claims = this.db.collection<ClaimDocument>(COLLECTION);
    this.shift = options.shiftMs ?? (() => 0);
  }

  async reserve(claim: Claim, ttlMs: number, holder?: string): Promise<string> {
    await this.migrate();
    const token = randomUUID();
    const now = serverNow(this.shift());
    // One conditional write, decided by the server: the filter is the _id alone (MongoDB refuses
    // `$expr` in an upsert's filter), the update pipeline keeps a claim that is held (committed, or
    // reserved and live by the server's clock) and otherwise writes the new reservation; with no
    // document the upsert inserts it. The document after the write says who holds the claim.
    const fresh = { _id: '$_id', kind: literal(claim.kind), scope: literal(claim.scope), key: literal(claim.key), state: 'reserved', owner: null, holder: literal(holder ?? null), token: literal(token), expiresAt: { $add: [now, ttlMs] } };
    const after = await this.upsert(claimId(claim), [{ $replaceWith: { $cond: [heldExpression(now), '$$ROOT', fresh] } }]);
    if (after?.token === token) return token;
    throw new NameUnavailableError(claim, after?.state === 'committed' ? 'taken' : 'reserved', after?.holder ?? undefined);
  }

  async renew(claim: Claim, token: string, ttlMs: number): Promise<void> {
    const now = serverNow(this.shift());
    const { matchedCount } = await this.claims.updateOne(liveFilter(claim, token, now), [{ $set: { expiresAt: { $add: [now, ttlMs] } } }]);
    if (matchedCount === 0) throw new ReservationLostError(claim);
  }

  async handOver(claim: Claim, token: string, ttlMs: number, holder?: string): Promise<string> {
    const next = randomUUID();
    const now = serverNow(this.shift());
    const { matchedCount } = await this.claims.updateOne(liveFilter(claim, token, now), [
      { $set: { token: literal(next), holder: literal(holder ?? null), expiresAt: { $add: [now, ttlMs] } } },
    ]);
    if (matchedCount === 0) throw new ReservationLostError(claim);
    return next;
  }

  async commit(claim: Claim, token: string, owner: string): Promise<void> {
    const { matchedCount } = await this.claims.updateOne(
      { _id: claimId(claim), token, state: 'reserved' },
      { $set: { state: 'committed', owner, expiresAt: null } },
    );
    if (matchedCount === 0) throw new ReservationLostError(claim);
  }

  async release(claim: Claim, token: string): Promise<void> {
    await this.claims.deleteOne({ _id: claimId(claim), token, state: 'reserved' });
  }

  async releaseOwned(claim: Claim, owner: string): Promise<void> {
    await this.migrate();
    await this.claims.deleteOne({ _id: claimId(claim), owner, state: 'committed' });
  }

  async lookup(claim: Claim): Promise<NameEntry | undefined> {
    await this.migrate();
    // The server says whether a reservation has expired, by its own clock.
    const [row] = await this.claims
      .aggregate<ClaimDocument & { expired: boolean }>([{ $match: { _id: claimId(claim) } }, { $addFields: { expired: expiredExpression(serverNow(this.shift())) } }])
      .toArray();
    return row ? toNameEntry(row) : undefined;
  }

  /**
   * findOneAndUpdate by _id with upsert, answering the document after the write. Two processes
   * creating the same claim at once: the server inserts for one and refuses the other's insert
   * (duplicate _id) unless it retries that upsert itself; the claim exists then, so a new attempt
   * is an update and is decided by the pipeline.
   */
  private async upsert(id: string, pipeline: mongo.Document[]): Promise<Pick<ClaimDocument, 'state' | 'holder' | 'token'> | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.claims.findOneAndUpdate({ _id: id }, pipeline, { upsert: true, returnDocument: 'after', projection: { state: 1, holder: 1, token: 1 } });
      } catch (error) {
        if (!isDuplicateKeyError(error) || attempt === UPSERT_ATTEMPTS) throw error;
      }
    }
  }

  /** Moves app names kept by earlier versions (`name_index`) into claims, once per process. */
  private migrate(): Promise<void> {
    this.migrated ??= (async () => {
      const legacy = this.db.collection<LegacyNameDocument>(LEGACY_COLLECTION);
      for await (const doc of legacy.find({})) {
        const claim: Claim = { kind: 'app-name', scope: '', key: doc._id };
        await this.claims.updateOne(
          { _id: claimId(claim) },
          { $setOnInsert: { kind: 'app-name', scope: '', key: doc._id, state: doc.state, owner: doc.appId, holder: null, token: doc.token, expiresAt: doc.expiresAt } },
          { upsert: true },
        );
        await legacy.deleteOne({ _id: doc._id });
      }
    })().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }
}

/** The server's time in epoch milliseconds, moved by `shiftMs` (tests; 0 in production): an aggregation expression. */
export function serverNow(shiftMs: number): mongo.Document {
  return { $add: [{ $toLong: '$$NOW' }, shiftMs] };
}

/**
 * True while the claim is held: committed, or reserved and live by the server's clock. A missing
 * document (an upsert's new one) is not held.
 */
export function heldExpression(now: mongo.Document): mongo.Document {
  return { $or: [{ $eq: ['$state', 'committed'] }, { $and: [{ $eq: ['$state', 'reserved'] }, { $gt: [{ $ifNull: ['$expiresAt', 0] }, now] }] }] };
}

/** A value an update pipeline must take as it is: there a string starting with `$` would be read as a field path. */
export function literal(value: unknown): mongo.Document {
  return { $literal: value };
}

/** Matches the reservation `token` owns while it is live by the server's clock. */
export function liveFilter(claim: Claim, token: string, now: mongo.Document): mongo.Filter<ClaimDocument> {
  return { _id: claimId(claim), token, state: 'reserved', $expr: { $gt: ['$expiresAt', now] } };
}

/** True for a reservation that has expired by the server's clock (computed by the server). */
export function expiredExpression(now: mongo.Document): mongo.Document {
  return { $and: [{ $eq: ['$state', 'reserved'] }, { $lte: [{ $ifNull: ['$expiresAt', 0] }, now] }] };
}

export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === DUPLICATE_KEY;
}

/** An expired reservation (as the server judged it) is as good as no entry. */
export function toNameEntry(row: ClaimDocument & { expired: boolean }): NameEntry | undefined {
  if (row.expired) return undefined;
  return {
    claim: { kind: row.kind, scope: row.scope, key: row.key },
    state: row.state,
    ...(row.owner ? { owner: row.owner } : {}),
    ...(row.holder ? { holder: row.holder } : {}),
    ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
  };
}

function nativeDb(database: Connection | mongo.Db): mongo.Db {
  if (!('asPromise' in database)) return database;
  const db: mongo.Db | undefined = database.db;
  if (!db) throw new Error('The MongoDB connection is not open yet');
  return db;
}
