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
   * One ordered bulk write per collection, then the checkpoint: in one multi-document transaction
   * on a replica set; elsewhere (a lone mongod) one after another, where a crash in between leaves
   * documents ahead of the checkpoint and the replay that follows rewrites them with the same
   * values (projections are idempotent).
   */
  async commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint, fence?: Fence): Promise<void> {
    const targets = writes.map((write) => {
      const collection = this.collections.get(write.collection);
      if (!collection) throw new Error(`Collection ${write.collection} is not open`);
      return { collection, changes: write.changes };
    });
    // Indexes cannot be created inside a transaction: first use creates them here, before it starts.
    for (const { collection } of targets) await collection.ready();
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
      if (checkpoint) await this.db.collection<CheckpointDocument>(CHECKPOINTS).updateOne({ _id: checkpoint.name }, { $set: { position: checkpoint.position } }, { upsert: true, session });
    };
    if (!this.transactions) {
      await run();
      return;
    }
    // On a replica set the documents and the checkpoint commit together, as on SQLite.
    const session = this.connection.getClient().startSession();
    try {
      await session.withTransaction(() => run(session));
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

  async write(changes: readonly DocChange[], session?: mongo.ClientSession): Promise<void> {
    if (changes.length === 0) return;
    await this.ensureIndexes();
    await this.collection.bulkWrite(changes.map((change) => toBulkOperation(change as DocChange<T>, this.options)), { ordered: true, ...(session ? { session } : {}) });
  }

  async get(id: string): Promise<T | undefined> {
    await this.ensureIndexes();
    const stored = await this.collection.findOne({ _id: id });
    return stored ? fromStoredDocument<T>(stored) : undefined;
  }

  async findOne(filter: Filter): Promise<T | undefined> {
    await this.ensureIndexes();
    const stored = await this.collection.findOne(toMongoFilter(filter), { sort: { _id: 1 } });
    return stored ? fromStoredDocument<T>(stored) : undefined;
  }

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
    for await (const stored of this.collection.find(toMongoFilter(filter)).sort({ _id: 1 })) {
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

  async deleteMany(filter: Filter): Promise<number> {
    await this.ensureIndexes();
    return (await this.collection.deleteMany(toMongoFilter(filter))).deletedCount;
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

  private async createIndexes(): Promise<void> {
    for (const index of this.options.indexes ?? []) {
      const fields = typeof index === 'string' ? [index] : index;
      await this.collection.createIndex(Object.fromEntries(fields.map((field) => [field, 1])));
    }
    if (this.options.fullText) await this.collection.createIndex({ _words: 1 }, { name: 'full_text_words' });
  }
}

/** A port change as one operation of an ordered bulk write. */
export function toBulkOperation<T extends Doc>(change: DocChange<T>, options: CollectionOptions<T>): mongo.AnyBulkWriteOperation<StoredDocument> {
  if ('put' in change) {
    const stored = toStoredDocument(change.put, options.fullText, options.key);
    return { replaceOne: { filter: { _id: stored._id }, replacement: stored, upsert: true } };
  }
  if ('delete' in change) return { deleteOne: { filter: { _id: change.delete } } };
  return { deleteMany: { filter: toMongoFilter(change.deleteWhere) } };
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

/** Ties are broken by id, as in the SQLite adapter, so paging is stable. */
export function toMongoSort(sort: SortKey[] = []): mongo.Sort {
  const spec: Record<string, 1 | -1> = {};
  for (const key of sort) {
    assertName('field', key.field);
    spec[key.field] = key.direction === 'desc' ? -1 : 1;
  }
  spec['_id'] = 1;
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
