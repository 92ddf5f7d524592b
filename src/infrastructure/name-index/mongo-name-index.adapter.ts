import { randomUUID } from 'node:crypto';
import { type Connection, type mongo } from 'mongoose';
import { type NameEntry, type NameIndex, NameUnavailableError, ReservationLostError } from './name-index.port.js';

/** One document per name; `_id` = the name, so the primary key is what makes names unique. */
export interface NameDocument {
  _id: string;
  state: 'reserved' | 'committed';
  appId: string | null;
  token: string | null;
  expiresAt: number | null;
}

const COLLECTION = 'name_index';
const DUPLICATE_KEY = 11000;

/**
 * The name index on MongoDB. Each operation is a single conditional write, so two processes racing
 * for a name are decided by the server, not by a read followed by a write.
 */
export class MongoNameIndex implements NameIndex {
  private readonly names: mongo.Collection<NameDocument>;

  /** Takes an open mongoose connection (MongoReadStore.connection) or a native database. */
  constructor(
    database: Connection | mongo.Db,
    private readonly now: () => number = Date.now,
  ) {
    this.names = nativeDb(database).collection<NameDocument>(COLLECTION);
  }

  async reserve(name: string, ttlMs: number): Promise<string> {
    const token = randomUUID();
    const now = this.now();
    try {
      // Updates an expired reservation in place; with no document at all the upsert inserts one.
      // A committed name or a live reservation does not match, so the upsert's insert collides
      // with the existing _id and the server rejects it.
      await this.names.updateOne(
        reservableFilter(name, now),
        { $set: { state: 'reserved', appId: null, token, expiresAt: now + ttlMs } },
        { upsert: true },
      );
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const current = await this.names.findOne({ _id: name });
      throw new NameUnavailableError(name, current?.state === 'committed' ? 'taken' : 'reserved');
    }
    return token;
  }

  async renew(name: string, token: string, ttlMs: number): Promise<void> {
    const { matchedCount } = await this.names.updateOne(
      { _id: name, token, state: 'reserved' },
      { $set: { expiresAt: this.now() + ttlMs } },
    );
    if (matchedCount === 0) throw new ReservationLostError(name);
  }

  async commit(name: string, token: string, appId: string): Promise<void> {
    const { matchedCount } = await this.names.updateOne(
      { _id: name, token, state: 'reserved' },
      { $set: { state: 'committed', appId, expiresAt: null } },
    );
    if (matchedCount === 0) throw new ReservationLostError(name);
  }

  async release(name: string, token: string): Promise<void> {
    await this.names.deleteOne({ _id: name, token, state: 'reserved' });
  }

  async releaseApp(name: string, appId: string): Promise<void> {
    await this.names.deleteOne({ _id: name, appId, state: 'committed' });
  }

  async lookup(name: string): Promise<NameEntry | undefined> {
    const row = await this.names.findOne({ _id: name });
    return row ? toNameEntry(row, this.now()) : undefined;
  }
}

/** Matches the name's document only while a new reservation may replace it: reserved and expired. */
export function reservableFilter(name: string, now: number): mongo.Filter<NameDocument> {
  return { _id: name, state: 'reserved', expiresAt: { $lte: now } };
}

export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === DUPLICATE_KEY;
}

/** An expired reservation is as good as no entry. */
export function toNameEntry(row: NameDocument, now: number): NameEntry | undefined {
  if (row.state === 'reserved' && (row.expiresAt ?? 0) <= now) return undefined;
  return {
    name: row._id,
    state: row.state,
    ...(row.appId ? { appId: row.appId } : {}),
    ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
  };
}

function nativeDb(database: Connection | mongo.Db): mongo.Db {
  if (!('asPromise' in database)) return database;
  const db: mongo.Db | undefined = database.db;
  if (!db) throw new Error('The MongoDB connection is not open yet');
  return db;
}
