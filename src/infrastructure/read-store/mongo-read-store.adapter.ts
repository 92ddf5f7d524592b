import mongoose, { type Connection, type mongo } from 'mongoose';
import {
  assertName,
  type Checkpoint,
  type CollectionOptions,
  type CollectionWrite,
  type Doc,
  type DocChange,
  type Filter,
  type FindOptions,
  type Page,
  type ReadCollection,
  type ReadStore,
  searchWords,
  type SortKey,
} from './read-store.port.js';

/**
 * A document as MongoDB holds it: the caller's fields (id included), `_id` = id so lookups use the
 * primary key, and `_text` = the collection's full text, which the text index covers.
 * Caller fields named `_id` or `_text` would be overwritten: those two names are reserved.
 */
export interface StoredDocument {
  _id: string;
  _text?: string;
  [field: string]: unknown;
}

export type MongoQuery = mongo.Filter<StoredDocument>;

interface CheckpointDocument {
  _id: string;
  position: number;
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
  constructor(readonly connection: Connection) {
    this.db = databaseOf(connection);
  }

  /** Opens a connection and waits until it is usable; `dbName` overrides the URL's database. */
  static async connect(url: string, options: { dbName?: string } = {}): Promise<MongoReadStore> {
    const connection = mongoose.createConnection(url, options.dbName ? { dbName: options.dbName } : {});
    await connection.asPromise();
    return new MongoReadStore(connection);
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
   * One ordered bulk write per collection, then the checkpoint. Not one transaction: a crash in
   * between leaves documents ahead of the checkpoint, and the replay that follows rewrites them
   * with the same values (projections are idempotent).
   */
  async commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint): Promise<void> {
    for (const write of writes) {
      const collection = this.collections.get(write.collection);
      if (!collection) throw new Error(`Collection ${write.collection} is not open`);
      await collection.write(write.changes);
    }
    if (checkpoint) await this.setCheckpoint(checkpoint.name, checkpoint.position);
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

  async write(changes: readonly DocChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.ensureIndexes();
    await this.collection.bulkWrite(changes.map((change) => toBulkOperation(change as DocChange<T>, this.options)), { ordered: true });
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
    if (this.options.fullText) await this.collection.createIndex({ _text: 'text' }, TEXT_INDEX_OPTIONS);
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
 * Language "none": no stemming and no stop words, like SQLite's unicode61 tokenizer. The language
 * override points at a field nobody writes, because MongoDB otherwise reads a document's own
 * `language` field (a content item may well have one) and rejects values it does not know.
 */
export const TEXT_INDEX_OPTIONS: mongo.CreateIndexesOptions = {
  name: 'full_text',
  default_language: 'none',
  language_override: '_textLanguage',
};

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
 * A text query where every word must be present: each word is quoted, and MongoDB requires all
 * quoted phrases (unquoted words would be OR-ed). Words come from searchWords(), so no query syntax of
 * the user's reaches MongoDB. Unlike the SQLite adapter there is no prefix matching: MongoDB finds
 * candidates by whole indexed words, then checks each quoted word as a case-insensitive substring.
 */
export function toMongoTextQuery(text: string): MongoQuery {
  const words = searchWords(text);
  if (words.length === 0) return NO_MATCH;
  return { $text: { $search: words.map((word) => `"${word}"`).join(' ') } };
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
  return { ...fields, _id: key ? key(doc) : doc.id, ...(fullText ? { _text: fullText(doc) } : {}) };
}

/** Only this collection's put() writes its documents, so what comes back is the T that went in. */
export function fromStoredDocument<T extends Doc>(stored: StoredDocument): T {
  const { _id: _ignoredId, _text: _ignoredText, ...fields } = stored;
  return fields as unknown as T;
}

function databaseOf(connection: Connection): mongo.Db {
  const db: mongo.Db | undefined = connection.db;
  if (!db) throw new Error('The MongoDB connection is not open yet; use MongoReadStore.connect()');
  return db;
}
