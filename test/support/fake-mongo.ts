import { find, update } from 'mingo';
import { type Connection, mongo } from 'mongoose';

/**
 * An in-memory stand-in for the part of MongoDB's driver the adapters use (a Db's collections, a
 * client's sessions), which records every operation: collection, kind, filter, sort, projection,
 * limit, whether it carried a session and whether a transaction was open. Filters, sorts,
 * projections and updates are evaluated by mingo (MongoDB's query language in JavaScript).
 *
 * It is strict where the server is: an index cannot be created inside a transaction, an
 * operation inside a transaction must carry the transaction's session (the server would run it
 * outside the transaction; here it is recorded, and `violations()` lists it), a transaction that
 * throws is rolled back. `failWhen` makes the next matching operation fail, to interrupt work
 * part-way. It is no substitute for a server's planner or concurrency: the read-store contract
 * runs against a real server when MONGO_URL is set.
 */

type Stored = Record<string, unknown> & { _id: unknown };
type Filter = Record<string, unknown>;
type SortSpec = Record<string, 1 | -1>;

export interface RecordedCall {
  collection: string;
  op: string;
  filter?: Filter;
  sort?: SortSpec;
  projection?: Record<string, unknown>;
  limit?: number;
  /** The number of documents a write removed or changed. */
  affected?: number;
  session: boolean;
  /** Whether the session was the open transaction's. */
  transactionSession: boolean;
  inTransaction: boolean;
}

export interface FakeIndex {
  name: string;
  key: Record<string, 1 | -1>;
}

interface Options {
  session?: unknown;
  sort?: SortSpec;
  projection?: Record<string, unknown>;
  upsert?: boolean;
  name?: string;
}

const keyOf = (id: unknown): string => (id instanceof mongo.ObjectId ? `oid:${id.toHexString()}` : `${typeof id}:${String(id)}`);
const clone = <T>(value: T): T => structuredCloneWithIds(value);

/** structuredClone loses ObjectId's prototype; documents hold ObjectIds (GridFS), so they are kept as they are. */
function structuredCloneWithIds<T>(value: T): T {
  if (value instanceof mongo.ObjectId || value instanceof Date || value instanceof RegExp || value instanceof Uint8Array || value instanceof mongo.Binary) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => structuredCloneWithIds(item)) as T;
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [field, item] of Object.entries(value)) copy[field] = structuredCloneWithIds(item);
    return copy as T;
  }
  return value;
}

export class FakeMongo {
  readonly calls: RecordedCall[] = [];
  private readonly data = new Map<string, Map<string, Stored>>();
  private readonly indexes = new Map<string, FakeIndex[]>();
  private readonly collections = new Map<string, FakeCollection>();
  private readonly faults: { match: (call: RecordedCall) => boolean; error: Error }[] = [];
  /** The session whose transaction is open, if any. */
  transaction: FakeSession | undefined;
  transactionsCommitted = 0;
  /** The options each transaction was begun with. */
  readonly transactionOptions: unknown[] = [];

  /** The fake as the driver's Db, for adapters that take one (GridFsBlobStore). */
  get db(): mongo.Db {
    return this.asDb() as unknown as mongo.Db;
  }

  /** The fake as an open mongoose connection (MongoReadStore takes one). */
  get connection(): Connection {
    const client = { startSession: () => new FakeSession(this) };
    return { db: this.db, getClient: () => client, close: async () => undefined } as unknown as Connection;
  }

  collection(name: string): FakeCollection {
    let collection = this.collections.get(name);
    if (!collection) {
      collection = new FakeCollection(this, name);
      this.collections.set(name, collection);
    }
    return collection;
  }

  /** The next operation matching `match` throws `error` (once). */
  failWhen(match: (call: RecordedCall) => boolean, error = new Error('injected fault')): void {
    this.faults.push({ match, error });
  }

  /** Operations issued while a transaction was open that did not carry its session. */
  violations(): RecordedCall[] {
    return this.calls.filter((call) => call.inTransaction && !call.transactionSession);
  }

  indexesOf(name: string): FakeIndex[] {
    return this.indexes.get(name) ?? [{ name: '_id_', key: { _id: 1 } }];
  }

  documents(name: string): Stored[] {
    return [...(this.data.get(name)?.values() ?? [])].map(clone);
  }

  /** Puts documents in place without recording anything (a test's starting state). */
  seed(name: string, docs: readonly Stored[]): void {
    const rows = this.rows(name);
    for (const doc of docs) rows.set(keyOf(doc._id), clone(doc));
  }

  rows(name: string): Map<string, Stored> {
    let rows = this.data.get(name);
    if (!rows) {
      rows = new Map();
      this.data.set(name, rows);
    }
    return rows;
  }

  setIndexes(name: string, indexes: FakeIndex[]): void {
    this.indexes.set(name, indexes);
  }

  record(call: Omit<RecordedCall, 'session' | 'transactionSession' | 'inTransaction'>, options: Options | undefined): RecordedCall {
    const session = options?.session;
    const recorded: RecordedCall = {
      ...call,
      session: session !== undefined,
      transactionSession: session !== undefined && session === this.transaction,
      inTransaction: this.transaction !== undefined,
    };
    this.calls.push(recorded);
    const fault = this.faults.findIndex((f) => f.match(recorded));
    if (fault >= 0) throw this.faults.splice(fault, 1)[0]!.error;
    return recorded;
  }

  snapshot(): Map<string, Map<string, Stored>> {
    return new Map([...this.data].map(([name, rows]) => [name, new Map([...rows].map(([key, doc]) => [key, clone(doc)]))]));
  }

  restore(snapshot: Map<string, Map<string, Stored>>): void {
    this.data.clear();
    for (const [name, rows] of snapshot) this.data.set(name, rows);
  }

  private asDb(): { collection: (name: string) => FakeCollection; databaseName: string } {
    return { collection: (name: string) => this.collection(name), databaseName: 'fake' };
  }
}

export class FakeSession {
  constructor(private readonly mongo: FakeMongo) {}

  async withTransaction<T>(work: () => Promise<T>, options?: unknown): Promise<T> {
    this.mongo.transactionOptions.push(options);
    if (this.mongo.transaction) throw new Error('A transaction is already open on the fake');
    const before = this.mongo.snapshot();
    this.mongo.transaction = this;
    try {
      const result = await work();
      this.mongo.transactionsCommitted += 1;
      return result;
    } catch (error) {
      this.mongo.restore(before);
      throw error;
    } finally {
      this.mongo.transaction = undefined;
    }
  }

  async endSession(): Promise<void> {}
}

export class FakeCursor {
  private sortSpec: SortSpec | undefined;
  private skipCount = 0;
  private limitCount: number | undefined;
  private results: Stored[] | undefined;

  constructor(
    private readonly owner: FakeCollection,
    private readonly filter: Filter,
    private readonly options: Options,
  ) {
    this.sortSpec = options.sort;
  }

  sort(spec: SortSpec): this {
    this.sortSpec = spec;
    return this;
  }

  skip(count: number): this {
    this.skipCount = count;
    return this;
  }

  limit(count: number): this {
    this.limitCount = count;
    return this;
  }

  project(projection: Record<string, unknown>): this {
    this.options.projection = projection;
    return this;
  }

  async toArray(): Promise<Stored[]> {
    return this.remaining().splice(0);
  }

  async next(): Promise<Stored | null> {
    return this.remaining().shift() ?? null;
  }

  async close(): Promise<void> {
    this.results = [];
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Stored> {
    const results = this.remaining();
    while (results.length > 0) yield results.shift()!;
  }

  /** Evaluated once, at the first read, like a server cursor; reads then take from it. */
  private remaining(): Stored[] {
    this.results ??= this.run();
    return this.results;
  }

  private run(): Stored[] {
    this.owner.mongo.record(
      {
        collection: this.owner.name,
        op: 'find',
        filter: this.filter,
        ...(this.sortSpec ? { sort: this.sortSpec } : {}),
        ...(this.options.projection ? { projection: this.options.projection } : {}),
        ...(this.limitCount !== undefined ? { limit: this.limitCount } : {}),
      },
      this.options,
    );
    let cursor = find(this.owner.all(), this.filter, this.options.projection);
    if (this.sortSpec) cursor = cursor.sort(this.sortSpec);
    if (this.skipCount) cursor = cursor.skip(this.skipCount);
    if (this.limitCount) cursor = cursor.limit(this.limitCount);
    return (cursor.all() as Stored[]).map(clone);
  }
}

export class FakeCollection {
  constructor(
    readonly mongo: FakeMongo,
    readonly name: string,
  ) {}

  get collectionName(): string {
    return this.name;
  }

  all(): Stored[] {
    return [...this.mongo.rows(this.name).values()];
  }

  find(filter: Filter = {}, options: Options = {}): FakeCursor {
    return new FakeCursor(this, filter, { ...options });
  }

  async findOne(filter: Filter = {}, options: Options = {}): Promise<Stored | null> {
    this.mongo.record({ collection: this.name, op: 'findOne', filter, ...(options.sort ? { sort: options.sort } : {}), ...(options.projection ? { projection: options.projection } : {}) }, options);
    let cursor = find(this.all(), filter, options.projection);
    if (options.sort) cursor = cursor.sort(options.sort);
    const [first] = cursor.limit(1).all() as Stored[];
    return first ? clone(first) : null;
  }

  async countDocuments(filter: Filter = {}, options: Options = {}): Promise<number> {
    this.mongo.record({ collection: this.name, op: 'countDocuments', filter }, options);
    return find(this.all(), filter).all().length;
  }

  async insertOne(doc: Stored, options: Options = {}): Promise<{ insertedId: unknown }> {
    this.mongo.record({ collection: this.name, op: 'insertOne', affected: 1 }, options);
    const rows = this.mongo.rows(this.name);
    if (rows.has(keyOf(doc._id))) throw Object.assign(new Error('E11000 duplicate key'), { code: 11000 });
    rows.set(keyOf(doc._id), clone(doc));
    return { insertedId: doc._id };
  }

  async replaceOne(filter: Filter, replacement: Stored, options: Options = {}): Promise<{ matchedCount: number }> {
    this.mongo.record({ collection: this.name, op: 'replaceOne', filter }, options);
    return { matchedCount: this.replace(filter, replacement, options.upsert === true) };
  }

  async updateOne(filter: Filter, change: Record<string, unknown>, options: Options = {}): Promise<{ matchedCount: number }> {
    this.mongo.record({ collection: this.name, op: 'updateOne', filter }, options);
    const [target] = find(this.all(), filter).limit(1).all() as Stored[];
    if (target) {
      update(target, change);
      return { matchedCount: 1 };
    }
    if (!options.upsert) return { matchedCount: 0 };
    const created: Stored = { _id: filter['_id'] ?? new mongo.ObjectId() };
    update(created, change);
    this.mongo.rows(this.name).set(keyOf(created._id), created);
    return { matchedCount: 0 };
  }

  async deleteOne(filter: Filter, options: Options = {}): Promise<{ deletedCount: number }> {
    const call = this.mongo.record({ collection: this.name, op: 'deleteOne', filter }, options);
    call.affected = this.remove(filter, 1);
    return { deletedCount: call.affected };
  }

  async deleteMany(filter: Filter, options: Options = {}): Promise<{ deletedCount: number }> {
    const call = this.mongo.record({ collection: this.name, op: 'deleteMany', filter }, options);
    call.affected = this.remove(filter);
    return { deletedCount: call.affected };
  }

  async bulkWrite(operations: readonly Record<string, Record<string, unknown>>[], options: Options = {}): Promise<{ ok: 1 }> {
    const call = this.mongo.record({ collection: this.name, op: 'bulkWrite', limit: operations.length }, options);
    let affected = 0;
    for (const operation of operations) {
      if (operation['replaceOne']) {
        const { filter, replacement, upsert } = operation['replaceOne'] as { filter: Filter; replacement: Stored; upsert?: boolean };
        affected += this.replace(filter, replacement, upsert === true) || (upsert ? 1 : 0);
      } else if (operation['deleteOne']) {
        affected += this.remove((operation['deleteOne'] as { filter: Filter }).filter, 1);
      } else if (operation['deleteMany']) {
        affected += this.remove((operation['deleteMany'] as { filter: Filter }).filter);
      } else {
        throw new Error(`The fake does not know the bulk operation ${Object.keys(operation).join()}`);
      }
    }
    call.affected = affected;
    return { ok: 1 };
  }

  async createIndex(key: Record<string, 1 | -1>, options: Options = {}): Promise<string> {
    this.mongo.record({ collection: this.name, op: 'createIndex' }, options);
    if (this.mongo.transaction) throw new Error('Cannot create an index inside a multi-document transaction');
    const name = options.name ?? Object.entries(key).map(([field, direction]) => `${field}_${direction}`).join('_');
    const current = this.mongo.indexesOf(this.name);
    const same = current.find((index) => index.name === name);
    if (same && JSON.stringify(same.key) !== JSON.stringify(key)) throw Object.assign(new Error(`An index named ${name} exists with other keys`), { code: 86 });
    if (!same) this.mongo.setIndexes(this.name, [...current, { name, key }]);
    return name;
  }

  listIndexes(): { toArray: () => Promise<FakeIndex[]> } {
    return { toArray: async () => this.mongo.indexesOf(this.name).map((index) => ({ ...index })) };
  }

  async dropIndex(name: string): Promise<void> {
    this.mongo.record({ collection: this.name, op: 'dropIndex' }, {});
    const current = this.mongo.indexesOf(this.name);
    if (!current.some((index) => index.name === name)) throw Object.assign(new Error(`index not found with name [${name}]`), { code: 27 });
    this.mongo.setIndexes(
      this.name,
      current.filter((index) => index.name !== name),
    );
  }

  private replace(filter: Filter, replacement: Stored, upsert: boolean): number {
    const rows = this.mongo.rows(this.name);
    const [target] = find(this.all(), filter).limit(1).all() as Stored[];
    if (target) {
      rows.set(keyOf(target._id), clone({ ...replacement, _id: target._id }));
      return 1;
    }
    if (upsert) rows.set(keyOf(replacement._id), clone(replacement));
    return 0;
  }

  private remove(filter: Filter, limit?: number): number {
    const rows = this.mongo.rows(this.name);
    let cursor = find(this.all(), filter);
    if (limit !== undefined) cursor = cursor.limit(limit);
    const doomed = cursor.all() as Stored[];
    for (const doc of doomed) rows.delete(keyOf(doc._id));
    return doomed.length;
  }
}
