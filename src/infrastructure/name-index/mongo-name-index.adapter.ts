import { randomUUID } from 'node:crypto';
import { type Connection, type mongo } from 'mongoose';
import { type Claim, type NameEntry, type NameIndex, NameUnavailableError, ReservationLostError } from './name-index.port.js';

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

/** JSON of the triple: unambiguous whatever the parts contain. */
export function claimId(claim: Claim): string {
  return JSON.stringify([claim.kind, claim.scope, claim.key]);
}

/**
 * Claims on MongoDB. Each operation is a single conditional write, so two processes racing for a
 * claim are decided by the server (the unique `_id`), not by a read followed by a write.
 */
export class MongoNameIndex implements NameIndex {
  private readonly claims: mongo.Collection<ClaimDocument>;
  private readonly db: mongo.Db;
  private migrated?: Promise<void>;

  /** Takes an open mongoose connection (MongoReadStore.connection) or a native database. */
  constructor(
    database: Connection | mongo.Db,
    private readonly now: () => number = Date.now,
  ) {
    this.db = nativeDb(database);
    this.claims = this.db.collection<ClaimDocument>(COLLECTION);
  }

  async reserve(claim: Claim, ttlMs: number, holder?: string): Promise<string> {
    await this.migrate();
    const token = randomUUID();
    const now = this.now();
    try {
      // Updates an expired reservation in place; with no document at all the upsert inserts one.
      // A committed claim or a live reservation does not match, so the upsert's insert collides
      // with the existing _id and the server rejects it.
      await this.claims.updateOne(
        reservableFilter(claim, now),
        { $set: { kind: claim.kind, scope: claim.scope, key: claim.key, state: 'reserved', owner: null, holder: holder ?? null, token, expiresAt: now + ttlMs } },
        { upsert: true },
      );
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const current = await this.claims.findOne({ _id: claimId(claim) });
      throw new NameUnavailableError(claim, current?.state === 'committed' ? 'taken' : 'reserved', current?.holder ?? undefined);
    }
    return token;
  }

  async renew(claim: Claim, token: string, ttlMs: number): Promise<void> {
    const now = this.now();
    const { matchedCount } = await this.claims.updateOne(
      { _id: claimId(claim), token, state: 'reserved', expiresAt: { $gt: now } },
      { $set: { expiresAt: now + ttlMs } },
    );
    if (matchedCount === 0) throw new ReservationLostError(claim);
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
    const row = await this.claims.findOne({ _id: claimId(claim) });
    return row ? toNameEntry(row, this.now()) : undefined;
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

/** Matches the claim's document only while a new reservation may replace it: reserved and expired. */
export function reservableFilter(claim: Claim, now: number): mongo.Filter<ClaimDocument> {
  return { _id: claimId(claim), state: 'reserved', expiresAt: { $lte: now } };
}

export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === DUPLICATE_KEY;
}

/** An expired reservation is as good as no entry. */
export function toNameEntry(row: ClaimDocument, now: number): NameEntry | undefined {
  if (row.state === 'reserved' && (row.expiresAt ?? 0) <= now) return undefined;
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
