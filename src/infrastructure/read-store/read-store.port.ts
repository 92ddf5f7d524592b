/**
 * The read-store port: small document collections for projections and job state.
 * Projections own their collections and can always be rebuilt from events; job collections
 * are state of their own and are never touched by a rebuild.
 */

export type Scalar = string | number | boolean | null;

/** Equality on top-level fields; `{ $contains: v }` matches an array field holding v. */
export type Filter = Record<string, Scalar | { $contains: Scalar }>;

export interface SortKey {
  field: string;
  direction: 'asc' | 'desc';
}

export interface FindOptions {
  /**
   * Ties are broken by key, in the direction of the last sort field (ascending without a sort),
   * so pages are stable and an index ending with the sort's fields serves the whole order.
   */
  sort?: SortKey[];
  top?: number;
  skip?: number;
  /** Full-text query over the text the collection extracts from each document. */
  text?: string;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface Doc {
  id: string;
}

export interface CollectionOptions<T> {
  /** Text indexed for full-text search (FTS5 on SQLite, a text index on MongoDB). */
  fullText?: (doc: T) => string;
  /**
   * Indexes for the filters and sorts the collection serves: a field name, or several for a
   * compound index (equality filters first, then the sort fields, in the order the query uses).
   * The store appends the key to each, which makes the index serve a sort on its remaining fields
   * (ties by key, see FindOptions.sort) read forwards or backwards. Every query's filter should
   * start an index and its sort continue it: test/unit/read-store-indexes.spec.ts checks the
   * queries the application makes.
   */
  indexes?: (string | readonly string[])[];
  /**
   * The primary key, `doc.id` by default. Read models of things inside an app key by
   * `appKey(appId, id)`, so a restored clone keeps its entity ids beside the original's.
   */
  key?: (doc: T) => string;
  /**
   * Keep the answers of `get` and `findOne` in memory, for small collections read on every
   * request and written rarely (users, apps, schemas). Never stale: SQLite drops them at every
   * write to the collection and at every commit another connection makes to the file (see
   * LookupCache). MongoDB ignores it: replicas share its read models and any of them may write.
   */
  cacheLookups?: boolean;
}

/** The key of an app-scoped document; ids never contain `--`. */
export const appKey = (appId: string, id: string) => `${appId}--${id}`;

/**
 * One change to a collection, for bulk writers (projection replays). Changes apply in order;
 * `deleteWhere` takes the same filters as `find`. With `limit`, it removes at most that many of
 * the matching documents, so that removing a large app can be spread over short commits (stores
 * whose writes do not block the server may remove them all at once). A store may also remove the
 * documents a `deleteWhere` matches ahead of the rest of its commit, in steps of its own (MongoDB
 * does, to keep its transactions small): readers may then see them go a moment before the rest of
 * the commit shows, including one that a later put of the same commit brings back.
 */
export type DocChange<T extends Doc = Doc> = { put: T } | { delete: string } | { deleteWhere: Filter; limit?: number };

/** Changes to one collection, by the collection's name, for ReadStore.commit. */
export interface CollectionWrite {
  collection: string;
  changes: readonly DocChange[];
}

export interface Checkpoint {
  name: string;
  position: number;
}

/**
 * A projecting process's right to write read models (a fencing token), taken with
 * ReadStore.takeOver: a commit that carries it is refused, with nothing written, once another
 * process has taken the same checkpoint over since. A process that stalled past its lease (a long
 * pause, a clock gone wrong) can then not write over what its successor projected.
 */
export interface Fence {
  checkpoint: string;
  /** Random, new at every takeover: a commit passes only while its token is the checkpoint's current one. */
  token: string;
}

export class FencedOutError extends Error {
  constructor(readonly fence: Fence) {
    super(`Another process has taken the "${fence.checkpoint}" checkpoint over since this one did; nothing was written`);
    this.name = 'FencedOutError';
  }
}

export interface ReadCollection<T extends Doc> {
  readonly name: string;
  /** The primary key of a document (see CollectionOptions.key). */
  keyOf(doc: T): string;
  /** By primary key (see CollectionOptions.key). */
  get(key: string): Promise<T | undefined>;
  findOne(filter: Filter): Promise<T | undefined>;
  find(filter: Filter, options?: FindOptions): Promise<Page<T>>;
  /** Streams matching documents in id order without loading them all. */
  iterate(filter: Filter): AsyncIterable<T>;
  count(filter: Filter): Promise<number>;
  /** Insert or replace by id. */
  put(doc: T): Promise<void>;
  /**
   * Inserts the document unless one with its key exists, and returns the one stored: this one, or
   * the one that was there. The store's primary key decides (SQLite's, MongoDB's `_id`), so
   * processes racing to create the same document all end up with the same one.
   */
  insertIfMissing(doc: T): Promise<T>;
  /** By primary key. */
  delete(key: string): Promise<void>;
  deleteMany(filter: Filter): Promise<number>;
}

export interface ReadStore {
  readonly kind: 'sqlite' | 'mongodb';
  collection<T extends Doc>(name: string, options?: CollectionOptions<T>): ReadCollection<T>;
  /**
   * Applies changes to several collections and moves a checkpoint, as one unit: on SQLite one
   * transaction (all of it or nothing); on MongoDB one transaction on a replica set (the removals
   * of a `deleteWhere` go ahead of it in bounded steps, see DocChange), and without one the writes
   * then the checkpoint, so a crash in between replays the events since the old checkpoint again
   * (projections are idempotent). Every write is a keyed lookup, so its cost does not grow with
   * the collection. Collections must have been opened with `collection()` first. With a `fence`,
   * the commit is refused (FencedOutError, nothing written) if that fence is no longer the
   * checkpoint's newest.
   */
  commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint, fence?: Fence): Promise<void>;
  /**
   * Takes the checkpoint over for a new holder, in one step: a new fence (commits under earlier
   * ones are refused from now on) and the position to go on from, which no commit under an earlier
   * fence can move afterwards. On MongoDB without a replica set (no transactions) the fence is checked just
   * before a commit's writes rather than with them.
   */
  takeOver(name: string): Promise<{ fence: Fence; position: number }>;
  getCheckpoint(name: string): Promise<number>;
  setCheckpoint(name: string, position: number): Promise<void>;
  close(): Promise<void>;
}

export const READ_STORE = Symbol('READ_STORE');

export const COLLECTION_NAME = /^[a-z][a-z0-9_]*$/;
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertName(kind: 'collection' | 'field', name: string): void {
  const pattern = kind === 'collection' ? COLLECTION_NAME : FIELD_NAME;
  if (!pattern.test(name)) throw new Error(`Invalid ${kind} name "${name}"`);
}

/** Splits a user's search into plain words so no query syntax of the underlying engine leaks through. */
export function searchWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .slice(0, 20);
}

/**
 * Whether a document passes a filter, with the semantics the adapters share: equality on
 * top-level scalar fields, `$contains` on arrays, `null` for null or missing. Used where changes
 * are staged in memory before they are written (projection replays).
 */
export function matchesFilter(doc: Doc, filter: Filter): boolean {
  const fields = doc as unknown as Record<string, unknown>;
  for (const [field, condition] of Object.entries(filter)) {
    const value = fields[field];
    if (condition === null) {
      if (value !== null && value !== undefined) return false;
    } else if (typeof condition === 'object') {
      if (!Array.isArray(value) || !value.includes(condition.$contains)) return false;
    } else if (value !== condition) {
      return false;
    }
  }
  return true;
}
