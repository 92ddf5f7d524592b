import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, type mongo } from 'mongoose';
import {
  assertName,
  type Checkpoint,
  type CollectionOptions,
  type CollectionWrite,
  type Doc,
  type DocChange,
  type Fence,
  FencedOutError,
  type Filter,
  type FindOptions,
  type Page,
  type ReadCollection,
  type ReadStore,
  searchWords,
  type SortKey,
} from './read-store.port.js';
import { isDuplicateKeyError } from '../name-index/mongo-name-index.adapter.js';

/**
 * A document as MongoDB holds it: the caller's fields (id included), `_id` = id so lookups use the
 * primary key, and `_words` = the distinct words of the collection's full text, lower case, which a
 * multikey index covers. Caller fields named `_id` or `_words` would be overwritten: those two
 * names are reserved.
 */
export interface StoredDocument {
  _id: string;
  _words?: string[];
  [field: string]: unknown;
}

export type MongoQuery = mongo.Filter<StoredDocument>;

interface CheckpointDocument {
  _id: string;
  position: number;
  /** The token of the newest takeover of this checkpoint (ReadStore.takeOver). */
  fence?: string;
  /** Bumped by every fenced commit, so that a takeover and a commit always conflict as writes. */
  fencedCommits?: number;
}

/** Matches nothing; what a search without a single word finds, as in the SQLite adapter. */
const NO_MATCH: MongoQuery = { _id: { $in: [] } };

const CHECKPOINTS = 'checkpoints';

/** Documents one removal step takes: one covered index read and one delete of this many keys. */
export const PURGE_BATCH = 1000;

/**
 * Read models as plain MongoDB documents, one MongoDB collection per read collection (prefixed `c_`
 * so that no read collection can clash with `checkpoints` or `name_index`), no mongoose models.
 */
export class MongoReadStore implements ReadStore {
  readonly kind = 'mongodb' as const;
  private readonly db: mongo.Db;
  private readonly collections = new Map<string, MongoCollection<Doc>>();

  /** Takes a connection that is already open (see connect); the name index shares it. */
  /** `transactions`: the deployment is a replica set (or sharded), where multi-document transactions exist. */
  constructor(
    readonly connection: Connection,
    private readonly transactions = false,
  ) {
    this.db = databaseOf(connection);
  }

  /** Opens a connection and waits until it is usable; `dbName` overrides the URL's database. */
  static async connect(url: string, options: { dbName?: string } = {}): Promise<MongoReadStore> {
    const connection = mongoose.createConnection(url, options.dbName ? { dbName: options.dbName } : {});
    await connection.asPromise();
    const hello = (await databaseOf(connection).admin().command({ hello: 1 })) as { setName?: string; msg?: string };
    return new MongoReadStore(connection, hello.setName !== undefined || hello.msg === 'isdbgrid');
  }

  collection<T extends Doc>(name: string, options: CollectionOptions<T> = {}): ReadCollection<T> {
    assertName('collection', name);
    let existing = this.collections.get(name);
    if (!existing) {
      existing = new MongoCollection<Doc>(name, this.db.collection<StoredDocument>(`c_${name}`), options as CollectionOptions<Doc>);
      this.collections.set(name, existing);
    }
    return existing as unknown as ReadCollection<T>;
  }

  /**
   * The changes in order, then the checkpoint: in one multi-document transaction on a replica set;
   * elsewhere (a lone mongod) one after another, where a crash in between leaves documents ahead of
   * the checkpoint and the replay that follows rewrites them with the same values (projections are
   * idempotent).
   *
   * A transaction must stay small (MongoDB aborts one that runs past 60 s or outgrows its share of
   * the cache, and `withTransaction` would retry it for ever), so removals are not left to it: the
   * documents a `deleteWhere` matches are removed first, in batches of PURGE_BATCH outside any
   * transaction (see purge), and the transaction then removes only what the commit itself put. Each
   * batch is idempotent, so a crash part-way leaves the checkpoint where it was and the replay
   * removes the rest. Readers may see the documents go a moment before the rest of the commit
   * shows (the port allows it): only documents an event already recorded has deleted.
   */
  async commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint, fence?: Fence): Promise<void> {
    const targets = writes.map((write) => {
      const collection = this.collections.get(write.collection);
      if (!collection) throw new Error(`Collection ${write.collection} is not open`);
      return { collection, changes: write.changes };
    });
    // Indexes cannot be created inside a transaction: first use creates them here, before it starts.
    for (const { collection } of targets) await collection.ready();
    for (const { collection, changes } of targets) {
      for (const change of changes) if ('deleteWhere' in change) await collection.purge(change.deleteWhere);
    }
    const run = async (session?: mongo.ClientSession) => {
      // A write on the checkpoint's document (not a read): inside the transaction it conflicts with
      // a concurrent takeover, so the commit lands before the takeover or is refused after it.
      if (fence) {
        const { matchedCount } = await this.db
          .collection<CheckpointDocument>(CHECKPOINTS)
          .updateOne({ _id: fence.checkpoint, fence: fence.token }, { $inc: { fencedCommits: 1 } }, { session });
        if (matchedCount === 0) throw new FencedOutError(fence);
      }
      for (const { collection, changes } of targets) await collection.write(changes, session);
      if (checkpoint) await this.db.collection<CheckpointDocument>(CHECKPOINTS).updateOne({ _id: checkpoint.name }, { $set: { position: checkpoint.position } }, { upsert: true, ...(session ? { session } : {}) });
    };
    if (!this.transactions) {
      await run();
      return;
    }
    // On a replica set the documents and the checkpoint commit together, as on SQLite. A
    // transaction reads from the primary only, whatever read preference MONGO_URL names.
    const session = this.connection.getClient().startSession();
    try {
      await session.withTransaction(() => run(session), { readPreference: 'primary' });
    } finally {
      await session.endSession();
    }
  }

  async takeOver(name: string): Promise<{ fence: Fence; position: number }> {
    const token = randomUUID();
    const checkpoints = this.db.collection<CheckpointDocument>(CHECKPOINTS);
    await checkpoints.updateOne({ _id: name }, { $set: { fence: token } }, { upsert: true });
    // Read after the new token is in: a commit under an earlier one either landed before (and is
    // counted here) or is refused.
    const row = await checkpoints.findOne({ _id: name });
    return { fence: { checkpoint: name, token }, position: row?.position ?? 0 };
  }

  async getCheckpoint(name: string): Promise<number> {
    const row = await this.db.collection<CheckpointDocument>(CHECKPOINTS).findOne({ _id: name });
    return row?.position ?? 0;
  }

  async setCheckpoint(name: string, position: number): Promise<void> {
    await this.db.collection<CheckpointDocument>(CHECKPOINTS).updateOne({ _id: name }, { $set: { position } }, { upsert: true });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

class MongoCollection<T extends Doc> implements ReadCollection<T> {
  private indexesReady: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly collection: mongo.Collection<StoredDocument>,
    private readonly options: CollectionOptions<T>,
  ) {
    for (const index of options.indexes ?? []) for (const field of typeof index === 'string' ? [index] : index) assertName('field', field);
  }

  keyOf(doc: T): string {
    return this.options.key ? this.options.key(doc) : doc.id;
  }

  /** Resolves once the collection's indexes exist. */
  ready(): Promise<void> {
    return this.ensureIndexes();
  }

  /**
   * The changes in order: runs of puts and deletes as one ordered bulk write each, a deleteWhere
   * as a bounded removal (see deleteBounded). Inside a transaction every operation carries its
   * session, reads included.
   */
  async write(changes: readonly DocChange[], session?: mongo.ClientSession): Promise<void> {
    if (changes.length === 0) return;
    await this.ensureIndexes();
    const inSession = session ? { session } : {};
    let run: mongo.AnyBulkWriteOperation<StoredDocument>[] = [];
    const flush = async () => {
      if (run.length > 0) await this.collection.bulkWrite(run, { ordered: true, ...inSession });
      run = [];
    };
    for (const change of changes) {
      if ('deleteWhere' in change) {
        await flush();
        await this.deleteBounded(change.deleteWhere, change.limit, session);
      } else {
        run.push(toBulkOperation(change as { put: T } | { delete: string }, this.options));
      }
    }
    await flush();
  }

  /**
   * Removes every document matching `filter`, PURGE_BATCH at a time, outside any transaction: the
   * keys of a batch (read from an index that starts with the filter's fields and ends with the
   * key, so no document is fetched), then those keys. Idempotent, and safe to stop anywhere.
   */
  async purge(filter: Filter): Promise<number> {
    await this.ensureIndexes();
    const query = toMongoFilter(filter);
    let removed = 0;
    for (;;) {
      const keys = await this.matchingKeys(query, PURGE_BATCH);
      if (keys.length === 0) return removed;
      removed += (await this.collection.deleteMany({ ...query, _id: { $in: keys } })).deletedCount;
      if (keys.length < PURGE_BATCH) return removed;
    }
  }

  async get(id: string): Promise<T | undefined> {
    await this.ensureIndexes();
    const stored = await this.collection.findOne({ _id: id });
    return stored ? fromStoredDocument<T>(stored) : undefined;
  }

  async findOne(filter: Filter): Promise<T | undefined> {
    await this.ensureIndexes();
    const stored = await this.collection.findOne(toMongoFilter(filter), { sort: toMongoSort() });
    return stored ? fromStoredDocument<T>(stored) : undefined;
  }

  /**
   * The total is counted with the same filter, which starts with an index's fields (the unit test
   * of the declared indexes checks that), so MongoDB counts index keys without fetching documents.
   */
  async find(filter: Filter, options: FindOptions = {}): Promise<Page<T>> {
    await this.ensureIndexes();
    const query = this.query(filter, options.text);
    const total = await this.collection.countDocuments(query);
    // MongoDB reads limit(0) as "no limit"; the port means no items.
    if (options.top === 0) return { total, items: [] };
    let cursor = this.collection.find(query).sort(toMongoSort(options.sort));
    if (options.skip) cursor = cursor.skip(options.skip);
    if (options.top !== undefined) cursor = cursor.limit(options.top);
    const items = (await cursor.toArray()).map((stored) => fromStoredDocument<T>(stored));
    return { total, items };
  }

  async *iterate(filter: Filter): AsyncIterable<T> {
    await this.ensureIndexes();
    // The cursor fetches in batches, so memory stays bounded however many documents match.
    for await (const stored of this.collection.find(toMongoFilter(filter)).sort(toMongoSort())) {
      yield fromStoredDocument<T>(stored);
    }
  }

  async count(filter: Filter): Promise<number> {
    await this.ensureIndexes();
    return this.collection.countDocuments(toMongoFilter(filter));
  }

  async put(doc: T): Promise<void> {
    await this.ensureIndexes();
    const stored = toStoredDocument(doc, this.options.fullText, this.options.key);
    await this.collection.replaceOne({ _id: stored._id }, stored, { upsert: true });
  }

  async insertIfMissing(doc: T): Promise<T> {
    await this.ensureIndexes();
    const stored = toStoredDocument(doc, this.options.fullText, this.options.key);
    try {
      await this.collection.insertOne(stored);
      return doc;
    } catch (error) {
      // The unique _id decides: whoever inserted first, everyone reads back that one's document.
      if (!isDuplicateKeyError(error)) throw error;
    }
    const existing = await this.collection.findOne({ _id: stored._id });
    if (!existing) throw new Error(`The document ${stored._id} of ${this.name} was deleted while it was being inserted`);
    return fromStoredDocument<T>(existing);
  }

  async delete(id: string): Promise<void> {
    await this.ensureIndexes();
    await this.collection.deleteOne({ _id: id });
  }

  /** In batches, like the removals of a commit (see purge). */
  async deleteMany(filter: Filter): Promise<number> {
    return this.purge(filter);
  }

  /**
   * A deleteWhere inside a commit: one step of at most `limit` documents, or, without one, steps
   * until none match. After purge that is what the commit itself put before it (a transaction
   * reads a snapshot, so others' writes cannot keep it going): the transaction stays as small as
   * the commit.
   */
  private async deleteBounded(filter: Filter, limit: number | undefined, session?: mongo.ClientSession): Promise<void> {
    const query = toMongoFilter(filter);
    const step = limit ?? PURGE_BATCH;
    for (;;) {
      const keys = await this.matchingKeys(query, step, session);
      if (keys.length > 0) await this.collection.deleteMany({ ...query, _id: { $in: keys } }, session ? { session } : {});
      if (limit !== undefined || keys.length < step) return;
    }
  }

  /** Keys only: every index ends with the key, so the index answers without fetching documents. */
  private async matchingKeys(query: MongoQuery, limit: number, session?: mongo.ClientSession): Promise<string[]> {
    const found = await this.collection
      .find(query, { projection: { _id: 1 }, ...(session ? { session } : {}) })
      .limit(limit)
      .toArray();
    return found.map((doc) => doc._id);
  }

  private query(filter: Filter, text: string | undefined): MongoQuery {
    if (text === undefined) return toMongoFilter(filter);
    if (!this.options.fullText) throw new Error('This collection has no full-text index');
    return { ...toMongoFilter(filter), ...toMongoTextQuery(text) };
  }

  /** Created on first use, once per process; a failure is retried by the next call. */
  private ensureIndexes(): Promise<void> {
    this.indexesReady ??= this.createIndexes().catch((error: unknown) => {
      this.indexesReady = undefined;
      throw error;
    });
    return this.indexesReady;
  }

  /**
   * The declared indexes, then the removal of indexes this collection no longer declares (an older
   * version's, which every write would otherwise keep paying for). Replicas starting together may
   * both get here: creating an index that exists, or is being built with the same keys, is a
   * no-op on the server, and dropping one already gone is ignored.
   */
  private async createIndexes(): Promise<void> {
    const wanted = mongoIndexes(this.options);
    for (const index of wanted) await this.collection.createIndex(index.key, { name: index.name });
    const names = new Set(['_id_', ...wanted.map((index) => index.name)]);
    for (const existing of await this.collection.listIndexes().toArray()) {
      const name = String(existing['name']);
      if (names.has(name)) continue;
      await this.collection.dropIndex(name).catch((error: unknown) => {
        if (!isIndexNotFound(error)) throw error;
      });
    }
  }
}

export interface MongoIndex {
  name: string;
  key: Record<string, 1>;
}

/**
 * The MongoDB indexes of a collection: each declared index with the key (`_id`) appended, so that
 * sorts, which break ties by key (toMongoSort), are served by it read forwards or backwards, and
 * key-only reads (purge) need no document; and the full-text words. Named as MongoDB would name
 * them, so a name says which keys an index has.
 */
export function mongoIndexes<T extends Doc>(options: CollectionOptions<T>): MongoIndex[] {
  const indexes: MongoIndex[] = [];
  for (const declared of options.indexes ?? []) {
    const fields = [...(typeof declared === 'string' ? [declared] : declared), '_id'];
    indexes.push({ name: fields.map((field) => `${field}_1`).join('_'), key: Object.fromEntries(fields.map((field) => [field, 1 as const])) });
  }
  if (options.fullText) indexes.push({ name: 'full_text_words', key: { _words: 1 } });
  return indexes;
}

function isIndexNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 27;
}

/** A put or delete as one operation of an ordered bulk write (a deleteWhere is a bounded removal of its own). */
export function toBulkOperation<T extends Doc>(change: { put: T } | { delete: string }, options: CollectionOptions<T>): mongo.AnyBulkWriteOperation<StoredDocument> {
  if ('put' in change) {
    const stored = toStoredDocument(change.put, options.fullText, options.key);
    return { replaceOne: { filter: { _id: stored._id }, replacement: stored, upsert: true } };
  }
  return { deleteOne: { filter: { _id: change.delete } } };
}

/**
 * Port filter to MongoDB query. Equality on an array field also matches an array holding the value
 * (MongoDB semantics; SQLite compares the whole value); `null` matches null and missing fields, as
 * json_extract IS NULL does.
 */
export function toMongoFilter(filter: Filter): MongoQuery {
  const query: MongoQuery = {};
  for (const [field, condition] of Object.entries(filter)) {
    assertName('field', field);
    query[field] = condition !== null && typeof condition === 'object' ? condition.$contains : condition;
  }
  return query;
}

/**
 * A text query with the SQLite adapter's meaning: every word of the query must be the start of
 * some word of the document's text. Each word becomes an anchored regular expression over the
 * indexed `_words`, which the multikey index answers by range; words come from searchWords(), so
 * no query syntax of the user's reaches MongoDB.
 */
export function toMongoTextQuery(text: string): MongoQuery {
  const words = searchWords(text);
  if (words.length === 0) return NO_MATCH;
  return { _words: { $all: words.map((word) => new RegExp(`^${escapeRegex(word)}`)) } };
}

/** The distinct words of a text, split the way searches split them (letters and digits, lower case). */
export function indexWords(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (word.length > 0) words.add(word);
  return [...words];
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * Ties are broken by key, as in the SQLite adapter, so paging is stable; in the direction of the
 * last sort key, so that an index ending with the sort's fields and the key (mongoIndexes) serves
 * the whole sort, read backwards for a descending one.
 */
export function toMongoSort(sort: SortKey[] = []): mongo.Sort {
  const spec: Record<string, 1 | -1> = {};
  for (const key of sort) {
    assertName('field', key.field);
    spec[key.field] = key.direction === 'desc' ? -1 : 1;
  }
  spec['_id'] = sort.at(-1)?.direction === 'desc' ? -1 : 1;
  return spec;
}

/**
 * The JSON round trip stores exactly what the SQLite adapter stores: undefined fields dropped
 * (the driver would write null), dates as ISO strings.
 */
export function toStoredDocument<T extends Doc>(doc: T, fullText?: (doc: T) => string, key?: (doc: T) => string): StoredDocument {
  const plain: unknown = JSON.parse(JSON.stringify(doc));
  const fields = typeof plain === 'object' && plain !== null ? plain : {};
  return { ...fields, _id: key ? key(doc) : doc.id, ...(fullText ? { _words: indexWords(fullText(doc)) } : {}) };
}

/** Only this collection's put() writes its documents, so what comes back is the T that went in. */
export function fromStoredDocument<T extends Doc>(stored: StoredDocument): T {
  const { _id: _ignoredId, _words: _ignoredWords, ...fields } = stored;
  return fields as unknown as T;
}

function databaseOf(connection: Connection): mongo.Db {
  const db: mongo.Db | undefined = connection.db;
  if (!db) throw new Error('The MongoDB connection is not open yet; use MongoReadStore.connect()');
  return db;
}
