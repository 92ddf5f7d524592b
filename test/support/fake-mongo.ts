import { type Connection, mongo } from 'mongoose';
import {
  aggregate,
  applyUpdate,
  asSent,
  checkOptions,
  checkReplacement,
  checkUpdate,
  checkUpsertFilter,
  type Doc,
  duplicateKeyError,
  isPlainObject,
  notImplemented,
  project,
  sameBson,
  select,
  serverError,
  ServerClock,
  upsertSeed,
  withIdFirst,
} from './fake-mongo-engine.js';

/**
 * An in-memory stand-in for the part of MongoDB's driver the adapters use: a Db's collections
 * (find, findOne, countDocuments, aggregate, insertOne, updateOne, updateMany, replaceOne,
 * findOneAndUpdate, deleteOne, deleteMany, bulkWrite, createIndex, listIndexes, dropIndex) and a
 * client's sessions and transactions. It records every operation: collection, kind, filter, sort,
 * projection, limit, pipeline, whether it carried a session and whether a transaction was open.
 * Queries, expressions and updates follow the server's documented rules (fake-mongo-engine.ts:
 * mingo, plus `$$NOW` from the stand-in's own clock, BSON-ordered comparisons, update pipelines,
 * upserts from the filter's equalities, `$setOnInsert`); the unique `_id` and unique indexes refuse
 * duplicates with the server's error (a MongoServerError, code 11000); an operator, stage or option
 * it does not implement throws, naming it, so a silent no-op can never make a test pass.
 *
 * It is strict where the server is: an index cannot be created inside a transaction, an
 * operation inside a transaction must carry the transaction's session (the server would run it
 * outside the transaction; here it is recorded, and `violations()` lists it), a transaction that
 * throws is rolled back, an ended session cannot be used. `failWhen` makes the next matching
 * operation fail, to interrupt work part-way; `clock.shift` moves the server's clock.
 *
 * What it proves: that the adapters' requests mean, by MongoDB's documented semantics, what the
 * adapters intend (filters, expressions, update pipelines, upserts, duplicate keys, projections,
 * sorts, which operations run in a transaction). What it does not: it is no query planner (the
 * index check in mongo-index-check.ts only compares a query's shape with the declared indexes),
 * no wire protocol (the driver's Collection and serialization are not involved; it runs in this
 * process only, so OS processes cannot share it), no real concurrency (each operation runs whole
 * before the next, so write conflicts and interleavings inside an operation never happen), and no
 * transaction isolation (one transaction at a time, its writes visible at once, undone by a
 * snapshot on failure; no snapshot reads, write conflicts or retries). The contract suites run
 * against a real server when MONGO_URL is set.
 */

type Stored = Doc & { _id: unknown };
type Filter = Doc;
type SortSpec = Record<string, 1 | -1>;

export interface RecordedCall {
  collection: string;
  op: string;
  filter?: Filter;
  sort?: SortSpec;
  projection?: Record<string, unknown>;
  limit?: number;
  /** An aggregate's stages. */
  pipeline?: Doc[];
  /** The number of documents a write removed, changed or inserted. */
  affected?: number;
  session: boolean;
  /** Whether the session was the open transaction's. */
  transactionSession: boolean;
  inTransaction: boolean;
}

export interface FakeIndex {
  name: string;
  key: Record<string, 1 | -1>;
  unique?: boolean;
}

interface Options {
  session?: unknown;
  sort?: SortSpec;
  projection?: Record<string, unknown>;
  upsert?: boolean;
  limit?: number;
  skip?: number;
  name?: string;
  unique?: boolean;
  ordered?: boolean;
  returnDocument?: 'before' | 'after';
  includeResultMetadata?: boolean;
}

interface UpdateResult {
  acknowledged: true;
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
  upsertedId: unknown;
}

/** What one update or replacement did. */
interface Outcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  before?: Stored;
  after?: Stored;
}

const ID_INDEX: FakeIndex = { name: '_id_', key: { _id: 1 } };

/** A key's identity (an _id, a unique index's values): two keys are one when they are the same BSON value. */
function idKey(id: unknown): string {
  if (typeof id === 'string') return `s:${id}`;
  if (id instanceof mongo.ObjectId) return `oid:${id.toHexString()}`;
  return `bson:${mongo.BSON.EJSON.stringify(id, { relaxed: true })}`;
}

const clone = <T>(value: T): T => asSent(value);

function resolvePath(doc: Doc, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split('.')) value = isPlainObject(value) ? value[part] : undefined;
  return value;
}

const toResult = (outcome: Outcome): UpdateResult => ({
  acknowledged: true,
  matchedCount: outcome.matched,
  modifiedCount: outcome.modified,
  upsertedCount: outcome.upsertedId === undefined ? 0 : 1,
  upsertedId: outcome.upsertedId ?? null,
});

export class FakeMongo {
  readonly calls: RecordedCall[] = [];
  /** The server's clock ($$NOW); `clock.shift(ms)` plays a server whose time differs from the clients'. */
  readonly clock = new ServerClock();
  private readonly data = new Map<string, Map<string, Stored>>();
  private readonly indexes = new Map<string, FakeIndex[]>();
  private readonly collections = new Map<string, FakeCollection>();
  private readonly faults: { match: (call: RecordedCall) => boolean; error: Error }[] = [];
  /** The session whose transaction is open, if any. */
  transaction: FakeSession | undefined;
  transactionsCommitted = 0;
  /** The options each transaction was begun with. */
  readonly transactionOptions: unknown[] = [];

  /** The fake as the driver's Db, for adapters that take one (GridFsBlobStore, MongoNameIndex). */
  get db(): mongo.Db {
    return this.asDb() as unknown as mongo.Db;
  }

  /** The fake as an open mongoose connection (MongoReadStore and MongoNameIndex take one). */
  get connection(): Connection {
    const client = { startSession: () => new FakeSession(this) };
    const connection = { db: this.db, getClient: () => client, close: async () => undefined, asPromise: async () => connection };
    return connection as unknown as Connection;
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
    return this.indexes.get(name) ?? [ID_INDEX];
  }

  documents(name: string): Stored[] {
    return [...(this.data.get(name)?.values() ?? [])].map(clone);
  }

  /** Puts documents in place without recording anything (a test's starting state). */
  seed(name: string, docs: readonly Stored[]): void {
    const rows = this.rows(name);
    for (const doc of docs) rows.set(idKey(doc._id), clone(doc));
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
    if (session instanceof FakeSession && session.hasEnded) throw new mongo.MongoExpiredSessionError('Cannot use a session that has ended');
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
  hasEnded = false;

  constructor(private readonly mongo: FakeMongo) {}

  async withTransaction<T>(work: (session: FakeSession) => Promise<T>, options?: unknown): Promise<T> {
    if (this.hasEnded) throw new mongo.MongoExpiredSessionError('Cannot use a session that has ended');
    this.mongo.transactionOptions.push(options);
    if (this.mongo.transaction) throw new Error('A transaction is already open on the fake');
    const before = this.mongo.snapshot();
    this.mongo.transaction = this;
    try {
      const result = await work(this);
      this.mongo.transactionsCommitted += 1;
      return result;
    } catch (error) {
      this.mongo.restore(before);
      throw error;
    } finally {
      this.mongo.transaction = undefined;
    }
  }

  async endSession(): Promise<void> {
    this.hasEnded = true;
  }
}

/** A cursor evaluated once, at its first read, like a server cursor; reads then take from it. */
abstract class FakeCursor {
  private results: Stored[] | undefined;

  async toArray(): Promise<Stored[]> {
    return this.remaining().splice(0);
  }

  async next(): Promise<Stored | null> {
    return this.remaining().shift() ?? null;
  }

  async hasNext(): Promise<boolean> {
    return this.remaining().length > 0;
  }

  async close(): Promise<void> {
    this.results = [];
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Stored> {
    const results = this.remaining();
    while (results.length > 0) yield results.shift()!;
  }

  /** The driver refuses to change a cursor that has been read from. */
  protected assertNotStarted(): void {
    if (this.results !== undefined) throw new mongo.MongoCursorInUseError('Cursor is already initialized');
  }

  protected abstract execute(): Stored[];

  private remaining(): Stored[] {
    this.results ??= this.execute().map(clone);
    return this.results;
  }
}

class FakeFindCursor extends FakeCursor {
  constructor(
    private readonly owner: FakeCollection,
    private readonly filter: Filter,
    private readonly options: Options,
  ) {
    super();
  }

  sort(spec: SortSpec): this {
    this.assertNotStarted();
    this.options.sort = spec;
    return this;
  }

  skip(count: number): this {
    this.assertNotStarted();
    this.options.skip = count;
    return this;
  }

  limit(count: number): this {
    this.assertNotStarted();
    this.options.limit = count;
    return this;
  }

  project(projection: Record<string, unknown>): this {
    this.assertNotStarted();
    this.options.projection = projection;
    return this;
  }

  protected execute(): Stored[] {
    const { sort, projection, limit, skip } = this.options;
    this.owner.mongo.record(
      {
        collection: this.owner.name,
        op: 'find',
        filter: this.filter,
        ...(sort ? { sort } : {}),
        ...(projection ? { projection } : {}),
        ...(limit !== undefined ? { limit } : {}),
      },
      this.options,
    );
    return select(this.owner.all(), this.filter, this.owner.mongo.clock.now(), { sort, projection, limit, skip }) as Stored[];
  }
}

class FakeAggregateCursor extends FakeCursor {
  constructor(
    private readonly owner: FakeCollection,
    private readonly pipeline: Doc[],
    private readonly options: Options,
  ) {
    super();
  }

  protected execute(): Stored[] {
    const first = this.pipeline[0];
    const match = first && isPlainObject(first['$match']) ? (first['$match'] as Filter) : undefined;
    this.owner.mongo.record({ collection: this.owner.name, op: 'aggregate', pipeline: this.pipeline, ...(match ? { filter: match } : {}) }, this.options);
    return aggregate(this.owner.all(), this.pipeline, this.owner.mongo.clock.now()) as Stored[];
  }
}

type BulkOperation = Record<string, Record<string, unknown>>;

/** A bulk write's error as the driver's WriteError shows it (the driver does not export the class). */
class WriteError {
  constructor(private readonly err: { index: number; code: number; errmsg: string; op: BulkOperation }) {}

  get code(): number {
    return this.err.code;
  }

  get index(): number {
    return this.err.index;
  }

  get errmsg(): string {
    return this.err.errmsg;
  }

  get errInfo(): undefined {
    return undefined;
  }

  getOperation(): BulkOperation {
    return this.err.op;
  }

  toJSON(): Doc {
    return { code: this.code, index: this.index, errmsg: this.errmsg, op: this.err.op };
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

  find(filter: Filter = {}, options: Options = {}): FakeFindCursor {
    checkOptions('find', options, ['session', 'projection', 'sort', 'limit', 'skip']);
    return new FakeFindCursor(this, asSent(filter), { ...options });
  }

  async findOne(filter: Filter = {}, options: Options = {}): Promise<Stored | null> {
    checkOptions('findOne', options, ['session', 'projection', 'sort', 'skip']);
    this.mongo.record({ collection: this.name, op: 'findOne', filter, ...(options.sort ? { sort: options.sort } : {}), ...(options.projection ? { projection: options.projection } : {}) }, options);
    const [first] = select(this.all(), asSent(filter), this.mongo.clock.now(), { sort: options.sort, skip: options.skip, limit: 1, projection: options.projection });
    return first ? clone(first as Stored) : null;
  }

  async countDocuments(filter: Filter = {}, options: Options = {}): Promise<number> {
    checkOptions('countDocuments', options, ['session', 'limit', 'skip']);
    this.mongo.record({ collection: this.name, op: 'countDocuments', filter }, options);
    return select(this.all(), asSent(filter), this.mongo.clock.now(), { skip: options.skip, limit: options.limit }).length;
  }

  aggregate(pipeline: Doc[] = [], options: Options = {}): FakeAggregateCursor {
    checkOptions('aggregate', options, ['session']);
    return new FakeAggregateCursor(this, asSent(pipeline), options);
  }

  async insertOne(doc: Doc, options: Options = {}): Promise<{ acknowledged: true; insertedId: unknown }> {
    checkOptions('insertOne', options, ['session']);
    // As the driver does: a document without _id gets one, on the caller's object too.
    doc['_id'] ??= new mongo.ObjectId();
    const call = this.mongo.record({ collection: this.name, op: 'insertOne' }, options);
    this.insert(withIdFirst(asSent(doc)));
    call.affected = 1;
    return { acknowledged: true, insertedId: doc['_id'] };
  }

  async updateOne(filter: Filter, change: Doc | Doc[], options: Options = {}): Promise<UpdateResult> {
    return this.updateCommand('updateOne', filter, change, options);
  }

  async updateMany(filter: Filter, change: Doc | Doc[], options: Options = {}): Promise<UpdateResult> {
    return this.updateCommand('updateMany', filter, change, options);
  }

  async replaceOne(filter: Filter, replacement: Doc, options: Options = {}): Promise<UpdateResult> {
    checkOptions('replaceOne', options, ['session', 'upsert']);
    checkReplacement(replacement);
    const call = this.mongo.record({ collection: this.name, op: 'replaceOne', filter }, options);
    const outcome = this.replace(asSent(filter), asSent(replacement), options.upsert === true);
    call.affected = outcome.modified + (outcome.upsertedId === undefined ? 0 : 1);
    return toResult(outcome);
  }

  /**
   * `returnDocument` 'before' (the default, as in the driver) or 'after'; null when nothing matched
   * (or, with 'before', when the upsert inserted). With `includeResultMetadata` the server's reply.
   */
  async findOneAndUpdate(filter: Filter, change: Doc | Doc[], options: Options = {}): Promise<Stored | null | { ok: 1; value: Stored | null; lastErrorObject: Doc }> {
    checkOptions('findOneAndUpdate', options, ['session', 'upsert', 'returnDocument', 'projection', 'sort', 'includeResultMetadata']);
    checkUpdate(change);
    if (options.returnDocument !== undefined && options.returnDocument !== 'before' && options.returnDocument !== 'after') {
      throw new mongo.MongoInvalidArgumentError(`returnDocument must be 'before' or 'after', got ${String(options.returnDocument)}`);
    }
    const call = this.mongo.record({ collection: this.name, op: 'findOneAndUpdate', filter, ...(options.sort ? { sort: options.sort } : {}), ...(options.projection ? { projection: options.projection } : {}) }, options);
    const now = this.mongo.clock.now();
    const outcome = this.update(asSent(filter), asSent(change), { upsert: options.upsert === true, multi: false, sort: options.sort, now });
    call.affected = outcome.modified + (outcome.upsertedId === undefined ? 0 : 1);
    const chosen = options.returnDocument === 'after' ? outcome.after : outcome.before;
    const value = chosen ? (project(clone(chosen), options.projection, now) as Stored) : null;
    if (!options.includeResultMetadata) return value;
    const lastErrorObject: Doc = { n: outcome.matched + (outcome.upsertedId === undefined ? 0 : 1), updatedExisting: outcome.matched > 0 };
    if (outcome.upsertedId !== undefined) lastErrorObject['upserted'] = outcome.upsertedId;
    return { ok: 1, value, lastErrorObject };
  }

  async deleteOne(filter: Filter, options: Options = {}): Promise<{ acknowledged: true; deletedCount: number }> {
    checkOptions('deleteOne', options, ['session']);
    const call = this.mongo.record({ collection: this.name, op: 'deleteOne', filter }, options);
    call.affected = this.remove(asSent(filter), 1);
    return { acknowledged: true, deletedCount: call.affected };
  }

  async deleteMany(filter: Filter, options: Options = {}): Promise<{ acknowledged: true; deletedCount: number }> {
    checkOptions('deleteMany', options, ['session']);
    const call = this.mongo.record({ collection: this.name, op: 'deleteMany', filter }, options);
    call.affected = this.remove(asSent(filter));
    return { acknowledged: true, deletedCount: call.affected };
  }

  /**
   * The driver's bulk write: every operation is checked before anything is sent; ordered (the
   * default) stops at the first write error, unordered goes on; write errors are thrown as the
   * driver's MongoBulkWriteError with what was done before them.
   */
  async bulkWrite(operations: readonly BulkOperation[], options: Options = {}): Promise<Doc> {
    checkOptions('bulkWrite', options, ['session', 'ordered']);
    const steps = operations.map((operation, index) => this.bulkStep(operation, index));
    const call = this.mongo.record({ collection: this.name, op: 'bulkWrite', limit: operations.length }, options);
    const ordered = options.ordered !== false;
    const result = { insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, upsertedIds: {} as Doc, insertedIds: {} as Doc };
    const writeErrors: WriteError[] = [];
    for (const [index, step] of steps.entries()) {
      try {
        step(result, index);
      } catch (error) {
        if (!(error instanceof mongo.MongoServerError)) throw error;
        writeErrors.push(new WriteError({ index, code: Number(error.code), errmsg: error.message, op: operations[index]! }));
        if (ordered) break;
      }
    }
    call.affected = result.insertedCount + result.modifiedCount + result.deletedCount + result.upsertedCount;
    if (writeErrors.length > 0) {
      const [first] = writeErrors;
      throw new mongo.MongoBulkWriteError(
        { message: first!.errmsg, code: first!.code, writeErrors: writeErrors as unknown as mongo.WriteError[] },
        { ...result, ok: 1 } as unknown as mongo.BulkWriteResult,
      );
    }
    return { acknowledged: true, ...result, ok: 1 };
  }

  async createIndex(key: Record<string, 1 | -1>, options: Options = {}): Promise<string> {
    checkOptions('createIndex', options, ['name', 'unique']);
    this.mongo.record({ collection: this.name, op: 'createIndex' }, options);
    if (this.mongo.transaction) throw serverError(263, 'OperationNotSupportedInTransaction', 'Cannot create an index inside a multi-document transaction');
    const name = options.name ?? Object.entries(key).map(([field, direction]) => `${field}_${direction}`).join('_');
    const unique = options.unique === true;
    const current = this.mongo.indexesOf(this.name);
    const same = current.find((index) => index.name === name);
    if (same) {
      if (JSON.stringify(same.key) !== JSON.stringify(key)) throw serverError(86, 'IndexKeySpecsConflict', `An existing index has the same name as the requested index: ${name}`);
      if ((same.unique === true) !== unique) throw serverError(85, 'IndexOptionsConflict', `An index named ${name} exists with different options`);
      return name;
    }
    const sameKey = current.find((index) => JSON.stringify(index.key) === JSON.stringify(key));
    if (sameKey) throw serverError(85, 'IndexOptionsConflict', `Index already exists with a different name: ${sameKey.name}`);
    const index: FakeIndex = { name, key, ...(unique ? { unique } : {}) };
    if (unique) for (const doc of this.all()) this.checkUnique(doc, undefined, [index]);
    this.mongo.setIndexes(this.name, [...current, index]);
    return name;
  }

  listIndexes(options: Options = {}): { toArray: () => Promise<FakeIndex[]> } {
    checkOptions('listIndexes', options, ['session']);
    return { toArray: async () => this.mongo.indexesOf(this.name).map((index) => ({ ...index })) };
  }

  async dropIndex(name: string, options: Options = {}): Promise<void> {
    checkOptions('dropIndex', options, ['session']);
    this.mongo.record({ collection: this.name, op: 'dropIndex' }, options);
    const current = this.mongo.indexesOf(this.name);
    if (name === '_id_') throw serverError(72, 'InvalidOptions', 'cannot drop _id index');
    if (!current.some((index) => index.name === name)) throw serverError(27, 'IndexNotFound', `index not found with name [${name}]`);
    this.mongo.setIndexes(
      this.name,
      current.filter((index) => index.name !== name),
    );
  }

  private updateCommand(op: 'updateOne' | 'updateMany', filter: Filter, change: Doc | Doc[], options: Options): UpdateResult {
    checkOptions(op, options, ['session', 'upsert']);
    checkUpdate(change);
    const call = this.mongo.record({ collection: this.name, op, filter }, options);
    const outcome = this.update(asSent(filter), asSent(change), { upsert: options.upsert === true, multi: op === 'updateMany' });
    call.affected = outcome.modified + (outcome.upsertedId === undefined ? 0 : 1);
    return toResult(outcome);
  }

  /** Checks one operation of a bulk write as the driver does before sending; returns how to apply it. */
  private bulkStep(operation: BulkOperation, index: number): (result: Record<string, number | Doc>, at: number) => void {
    const kinds = Object.keys(operation);
    if (kinds.length !== 1) throw new mongo.MongoInvalidArgumentError(`Operation ${index} of a bulk write must have exactly one kind, got ${kinds.join(', ')}`);
    const kind = kinds[0]!;
    const spec = operation[kind]!;
    const add = (result: Record<string, number | Doc>, field: string, n: number) => {
      result[field] = (result[field] as number) + n;
    };
    const upserted = (result: Record<string, number | Doc>, at: number, outcome: Outcome) => {
      add(result, 'matchedCount', outcome.matched);
      add(result, 'modifiedCount', outcome.modified);
      if (outcome.upsertedId === undefined) return;
      add(result, 'upsertedCount', 1);
      (result['upsertedIds'] as Doc)[at] = outcome.upsertedId;
    };
    const allowed: Record<string, string[]> = {
      insertOne: ['document'],
      updateOne: ['filter', 'update', 'upsert'],
      updateMany: ['filter', 'update', 'upsert'],
      replaceOne: ['filter', 'replacement', 'upsert'],
      deleteOne: ['filter'],
      deleteMany: ['filter'],
    };
    if (!allowed[kind]) notImplemented(`the bulk write operation ${kind}`);
    checkOptions(`bulkWrite's ${kind}`, spec, allowed[kind]!);
    const filter = asSent((spec['filter'] ?? {}) as Filter);
    const upsert = spec['upsert'] === true;
    switch (kind) {
      case 'insertOne': {
        const document = spec['document'] as Doc;
        document['_id'] ??= new mongo.ObjectId();
        const doc = withIdFirst(asSent(document));
        return (result, at) => {
          this.insert(doc);
          add(result, 'insertedCount', 1);
          (result['insertedIds'] as Doc)[at] = doc._id;
        };
      }
      case 'updateOne':
      case 'updateMany': {
        checkUpdate(spec['update']);
        const change = asSent(spec['update'] as Doc | Doc[]);
        return (result, at) => upserted(result, at, this.update(filter, change, { upsert, multi: kind === 'updateMany' }));
      }
      case 'replaceOne': {
        checkReplacement(spec['replacement']);
        const replacement = asSent(spec['replacement'] as Doc);
        return (result, at) => upserted(result, at, this.replace(filter, replacement, upsert));
      }
      default:
        return (result) => add(result, 'deletedCount', this.remove(filter, kind === 'deleteOne' ? 1 : undefined));
    }
  }

  /** An update of the first match (or every one, `multi`); with `upsert`, an insert when none matches. */
  private update(filter: Filter, change: Doc | Doc[], how: { upsert: boolean; multi: boolean; sort?: SortSpec; now?: Date }): Outcome {
    if (how.upsert) checkUpsertFilter(filter);
    const now = how.now ?? this.mongo.clock.now();
    const targets = select(this.all(), filter, now, { sort: how.sort, ...(how.multi ? {} : { limit: 1 }) }) as Stored[];
    if (targets.length === 0) {
      if (!how.upsert) return { matched: 0, modified: 0 };
      const created = withIdFirst(applyUpdate(upsertSeed(filter), change, now, true));
      this.insert(created);
      return { matched: 0, modified: 0, upsertedId: created._id, after: created };
    }
    let modified = 0;
    let first: Stored | undefined;
    for (const target of targets) {
      const next = applyUpdate(target, change, now, false) as Stored;
      first ??= next;
      if (sameBson(target, next)) continue;
      this.replaceStored(target, next);
      modified += 1;
    }
    return { matched: targets.length, modified, before: targets[0], after: first };
  }

  /** Replaces the first match, keeping its _id; with `upsert`, inserts the replacement (with the filter's _id) when none matches. */
  private replace(filter: Filter, replacement: Doc, upsert: boolean): Outcome {
    if (upsert) checkUpsertFilter(filter);
    const now = this.mongo.clock.now();
    const [target] = select(this.all(), filter, now, { limit: 1 }) as Stored[];
    if (target) {
      if ('_id' in replacement && !sameBson(replacement['_id'], target._id)) {
        throw serverError(66, 'ImmutableField', "After applying the update, the (immutable) field '_id' was found to have been altered");
      }
      const next = withIdFirst({ ...replacement, _id: target._id });
      const modified = sameBson(target, next) ? 0 : 1;
      if (modified) this.replaceStored(target, next);
      return { matched: 1, modified, before: target, after: next };
    }
    if (!upsert) return { matched: 0, modified: 0 };
    const created = withIdFirst({ ...replacement, _id: replacement['_id'] ?? upsertSeed(filter)['_id'] });
    this.insert(created);
    return { matched: 0, modified: 0, upsertedId: created._id, after: created };
  }

  private insert(doc: Stored): void {
    const rows = this.mongo.rows(this.name);
    if (rows.has(idKey(doc._id))) throw duplicateKeyError(this.name, ID_INDEX, { _id: doc._id });
    this.checkUnique(doc, undefined);
    rows.set(idKey(doc._id), doc);
  }

  private replaceStored(target: Stored, next: Stored): void {
    this.checkUnique(next, target);
    this.mongo.rows(this.name).set(idKey(target._id), next);
  }

  /** The unique secondary indexes refuse a document whose key another document (not `self`) has. */
  private checkUnique(doc: Doc, self: Stored | undefined, indexes = this.mongo.indexesOf(this.name)): void {
    for (const index of indexes) {
      if (!index.unique || index.name === ID_INDEX.name) continue;
      const fields = Object.keys(index.key);
      const keyOf = (candidate: Doc) => fields.map((field) => resolvePath(candidate, field) ?? null);
      const key = keyOf(doc);
      if (key.some(Array.isArray)) notImplemented(`a unique index on an array field (${index.name})`);
      const wanted = idKey(key);
      for (const other of this.all()) {
        if (other === self || other === doc) continue;
        if (idKey(keyOf(other)) === wanted) throw duplicateKeyError(this.name, index, Object.fromEntries(fields.map((field, i) => [field, key[i]])));
      }
    }
  }

  private remove(filter: Filter, limit?: number): number {
    const rows = this.mongo.rows(this.name);
    const doomed = select(this.all(), filter, this.mongo.clock.now(), { limit }) as Stored[];
    for (const doc of doomed) rows.delete(idKey(doc._id));
    return doomed.length;
  }
}
