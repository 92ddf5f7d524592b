import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Statement } from 'better-sqlite3';
import { openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';
import { StatementCache } from '../sqlite/statement-cache.js';
import { LookupCache } from './lookup-cache.js';
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
  type Scalar,
  searchWords,
} from './read-store.port.js';

/** Full-text writes that make a merge of the index worth its overhead. */
const MIN_MERGE_PAGES = 32;

/**
 * Documents as JSON in one table per collection; full text in an FTS5 table beside it whose rowid
 * is the document's integer row id, so replacing or deleting a document's text is a keyed lookup.
 * The FTS5 table is contentless (`content=''`, `contentless_delete=1`): it keeps only the index,
 * not a second copy of the text, and still supports deletes by rowid; `detail=none` leaves out
 * word positions, which searches of separate words never need (a smaller, faster index). A hash of the indexed text
 * sits beside each document, so a change that leaves the text as it was (a status change) does
 * not touch the index, by far the costliest part of a write. Every statement is prepared once.
 *
 * FTS5 merges its index segments itself when a write fills a level, sometimes a large merge inside
 * an ordinary commit (40-50 ms measured). Automatic merging is off instead (`automerge=0`), and
 * each commit that wrote text is followed, one turn of the event loop later, by a bounded merge
 * (`'merge', N`) sized to what the commit wrote: the same work, in steps that never stall the server.
 */
export class SqliteReadStore implements ReadStore {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly collections = new Map<string, SqliteCollection<Doc>>();
  private readonly statements: StatementCache;
  private readonly getCheckpointStatement: Statement<[string], { position: number }>;
  private readonly setCheckpointStatement: Statement<[string, number]>;
  private readonly fenceStatement: Statement<[string, string]>;
  private readonly takeOverStatement: Statement<[string, string], { position: number }>;
  private readonly dataVersionStatement: Statement<[], number>;

  constructor(file: string) {
    this.db = openSqlite(file, 'normal');
    this.db.exec('CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, fence TEXT)');
    // Files from before fencing tokens.
    if (!this.db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('checkpoints')`).all().some((c) => c.name === 'fence')) {
      this.db.exec('ALTER TABLE checkpoints ADD COLUMN fence TEXT');
    }
    this.statements = new StatementCache(this.db);
    this.getCheckpointStatement = this.db.prepare('SELECT position FROM checkpoints WHERE name = ?');
    this.setCheckpointStatement = this.db.prepare('INSERT INTO checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position');
    // A write, not a read: the transaction takes the write lock with it, so no takeover can slip in before the commit ends.
    this.fenceStatement = this.db.prepare('UPDATE checkpoints SET fence = fence WHERE name = ? AND fence = ?');
    this.takeOverStatement = this.db.prepare('INSERT INTO checkpoints (name, position, fence) VALUES (?, 0, ?) ON CONFLICT(name) DO UPDATE SET fence = excluded.fence RETURNING position');
    // Changes when another connection commits to the file (not on this one's own commits).
    this.dataVersionStatement = this.db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** The same file also holds the name index; it shares this connection. */
  get database(): SqliteDatabase {
    return this.db;
  }

  collection<T extends Doc>(name: string, options: CollectionOptions<T> = {}): ReadCollection<T> {
    assertName('collection', name);
    let existing = this.collections.get(name);
    if (!existing) {
      const cache = options.cacheLookups ? new LookupCache(() => this.dataVersionStatement.get()!) : undefined;
      existing = new SqliteCollection<Doc>(this.db, this.statements, name, options as CollectionOptions<Doc>, cache);
      this.collections.set(name, existing);
    }
    return existing as unknown as ReadCollection<T>;
  }

  /** Synchronous inside one transaction: nothing else can interleave, and a failure rolls all of it back. */
  async commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint, fence?: Fence): Promise<void> {
    const targets = writes.map((w) => {
      const collection = this.collections.get(w.collection);
      if (!collection) throw new Error(`Collection ${w.collection} is not open`);
      return { collection, changes: w.changes };
    });
    this.transaction(() => {
      if (fence && this.fenceStatement.run(fence.checkpoint, fence.token).changes === 0) throw new FencedOutError(fence);
      for (const { collection, changes } of targets) collection.applySync(changes);
      if (checkpoint) this.setCheckpointStatement.run(checkpoint.name, checkpoint.position);
    });
    for (const { collection, changes } of targets) {
      if (!collection.noteTextWrites(changes.length)) continue;
      await nextTurn();
      if (this.db.open) collection.mergeIndex();
    }
  }

  async takeOver(name: string): Promise<{ fence: Fence; position: number }> {
    const token = randomUUID();
    const row = this.takeOverStatement.get(name, token)!;
    return { fence: { checkpoint: name, token }, position: row.position };
  }

  async getCheckpoint(name: string): Promise<number> {
    return this.getCheckpointStatement.get(name)?.position ?? 0;
  }

  async setCheckpoint(name: string, position: number): Promise<void> {
    this.setCheckpointStatement.run(name, position);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private transaction(work: () => void): void {
    if (this.db.inTransaction) work();
    else this.db.transaction(work)();
  }
}

interface Where {
  sql: string;
  params: Scalar[];
}

class SqliteCollection<T extends Doc> implements ReadCollection<T> {
  private readonly table: string;
  private readonly fts: string | undefined;
  private readonly select: Statement<[string], { doc: string }>;
  private readonly upsert: Statement<[string, string]>;
  private readonly selectText: Statement<[string], { rid: number; text_hash: string | null }>;
  private readonly insertWithText: Statement<[string, string, string], { rid: number }>;
  private readonly insertNew: Statement<[string, string, string | null], { rid: number }>;
  private readonly updateWithText: Statement<[string, string, number]>;
  private readonly remove: Statement<[string], { rid: number }>;
  private readonly ftsDelete: Statement<[number]> | undefined;
  private readonly ftsInsert: Statement<[number, string]> | undefined;
  private unmerged = 0;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly statements: StatementCache,
    readonly name: string,
    private readonly options: CollectionOptions<T>,
    private readonly cache?: LookupCache,
  ) {
    this.table = `c_${name}`;
    this.fts = options.fullText ? `fts_${name}` : undefined;
    const legacy = hasLegacyLayout(db, this.table);
    db.transaction(() => {
      if (legacy) db.exec(`ALTER TABLE ${this.table} RENAME TO ${this.table}_legacy`);
      db.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, text_hash TEXT)`);
      if (legacy) {
        db.exec(`INSERT INTO ${this.table} (id, doc) SELECT id, doc FROM ${this.table}_legacy ORDER BY id; DROP TABLE ${this.table}_legacy`);
        db.exec(`DROP TABLE IF EXISTS fts_${name}`);
      }
      // Each declared index ends with the key, as on MongoDB: sorts break ties by key in the
      // direction of their last field, so the index serves the whole ORDER BY, read either way.
      const declared = new Set<string>();
      for (const index of options.indexes ?? []) {
        const fields = typeof index === 'string' ? [index] : index;
        for (const field of fields) assertName('field', field);
        const columns = fields.map((field) => `json_extract(doc, '$.${field}')`).join(', ');
        const name = `${this.table}_${fields.join('_')}_key`;
        declared.add(name);
        db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON ${this.table} (${columns}, id)`);
      }
      // Indexes an earlier version declared (without the key) would only slow every write down.
      const existing = db.prepare<[string], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(this.table);
      for (const { name } of existing) if (!declared.has(name)) db.exec(`DROP INDEX "${name.replaceAll('"', '""')}"`);
      if (this.fts) {
        db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${this.fts} USING fts5 (body, content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61')`);
        // Merging happens in bounded steps after commits (see SqliteReadStore); a forced merge only if they ever fall far behind.
        db.exec(`INSERT INTO ${this.fts} (${this.fts}, rank) VALUES ('automerge', 0)`);
        db.exec(`INSERT INTO ${this.fts} (${this.fts}, rank) VALUES ('crisismerge', 64)`);
        // Merging 8 segments at a time rather than 4 halves the levels a text is rewritten through
        // (measured: catch-up of 400k events 13% faster); searches look at a few more segments.
        db.exec(`INSERT INTO ${this.fts} (${this.fts}, rank) VALUES ('usermerge', 8)`);
        // A collection moved from the layout before integer row ids gets its full-text index again,
        // in the same transaction, so a crash never leaves it half indexed.
        if (legacy) this.reindex();
      }
    })();
    this.select = db.prepare(`SELECT doc FROM ${this.table} WHERE id = ?`);
    this.upsert = db.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`);
    this.selectText = db.prepare(`SELECT rid, text_hash FROM ${this.table} WHERE id = ?`);
    this.insertWithText = db.prepare(`INSERT INTO ${this.table} (id, doc, text_hash) VALUES (?, ?, ?) RETURNING rid`);
    this.insertNew = db.prepare(`INSERT INTO ${this.table} (id, doc, text_hash) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING rid`);
    this.updateWithText = db.prepare(`UPDATE ${this.table} SET doc = ?, text_hash = ? WHERE rid = ?`);
    this.remove = db.prepare(`DELETE FROM ${this.table} WHERE id = ? RETURNING rid`);
    if (this.fts) {
      this.ftsDelete = db.prepare(`DELETE FROM ${this.fts} WHERE rowid = ?`);
      this.ftsInsert = db.prepare(`INSERT INTO ${this.fts} (rowid, body) VALUES (?, ?)`);
    }
  }

  /** Counts texts written since the last merge of the index; true once a merge is worth doing. */
  noteTextWrites(changes: number): boolean {
    if (!this.fts) return false;
    this.unmerged += changes;
    return this.unmerged >= MIN_MERGE_PAGES;
  }

  /** Merges index segments, writing roughly as many pages as texts were written since the last merge. */
  mergeIndex(): void {
    if (!this.fts || this.unmerged === 0) return;
    this.statements.get<[number]>(`INSERT INTO ${this.fts} (${this.fts}, rank) VALUES ('merge', ?)`).run(this.unmerged);
    this.unmerged = 0;
  }

  keyOf(doc: T): string {
    return this.options.key ? this.options.key(doc) : doc.id;
  }

  async get(key: string): Promise<T | undefined> {
    return this.cached(`key ${key}`, () => this.select.get(key)?.doc);
  }

  async findOne(filter: Filter): Promise<T | undefined> {
    return this.cached(`filter ${JSON.stringify(filter)}`, () => {
      const where = this.where(filter);
      return this.statements.get<Scalar[], { doc: string }>(`SELECT doc FROM ${this.table} ${where.sql} ORDER BY id LIMIT 1`).get(...where.params)?.doc;
    });
  }

  /** A look-up through the collection's LookupCache, if it has one (see CollectionOptions.cacheLookups). */
  private cached(lookup: string, read: () => string | undefined): T | undefined {
    let doc = this.cache?.get(lookup);
    if (doc === undefined) {
      doc = read();
      if (doc !== undefined && !this.db.inTransaction) this.cache?.keep(lookup, doc);
    }
    return doc === undefined ? undefined : (JSON.parse(doc) as T);
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<Page<T>> {
    const where = this.where(filter, options.text);
    const total = this.statements.get<Scalar[], { n: number }>(`SELECT COUNT(*) AS n FROM ${this.table} ${where.sql}`).get(...where.params)?.n ?? 0;
    if (options.top === 0) return { total, items: [] };
    const order = (options.sort ?? []).map((s) => {
      assertName('field', s.field);
      return `json_extract(doc, '$.${s.field}') ${s.direction === 'desc' ? 'DESC' : 'ASC'}`;
    });
    // Ties by key, in the direction of the last sort field (see the indexes above).
    order.push(options.sort?.at(-1)?.direction === 'desc' ? 'id DESC' : 'id ASC');
    const rows = this.statements
      .get<Scalar[], { doc: string }>(`SELECT doc FROM ${this.table} ${where.sql} ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`)
      .all(...where.params, options.top ?? -1, options.skip ?? 0);
    return { total, items: rows.map((r) => JSON.parse(r.doc) as T) };
  }

  async *iterate(filter: Filter): AsyncIterable<T> {
    const where = this.where(filter);
    const joiner = where.sql ? ' AND' : ' WHERE';
    const query = this.statements.get<Scalar[], { id: string; doc: string }>(`SELECT id, doc FROM ${this.table} ${where.sql}${joiner} id > ? ORDER BY id LIMIT 200`);
    let after = '';
    for (;;) {
      const rows = query.all(...where.params, after);
      for (const row of rows) yield JSON.parse(row.doc) as T;
      if (rows.length < 200) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async count(filter: Filter): Promise<number> {
    const where = this.where(filter);
    return this.statements.get<Scalar[], { n: number }>(`SELECT COUNT(*) AS n FROM ${this.table} ${where.sql}`).get(...where.params)?.n ?? 0;
  }

  async put(doc: T): Promise<void> {
    this.atomically(() => this.putSync(doc));
  }

  async insertIfMissing(doc: T): Promise<T> {
    const key = this.keyOf(doc);
    let stored = doc;
    this.cache?.clear();
    // The insert comes first, so the transaction holds the write lock before it reads anything.
    this.atomically(() => {
      const text = this.ftsInsert && this.options.fullText ? this.options.fullText(doc) : undefined;
      const inserted = this.insertNew.get(key, JSON.stringify(doc), text === undefined ? null : textHash(text));
      if (inserted && text !== undefined) this.ftsInsert!.run(inserted.rid, text);
      if (!inserted) stored = JSON.parse(this.select.get(key)!.doc) as T;
    });
    return stored;
  }

  async delete(key: string): Promise<void> {
    this.atomically(() => this.deleteSync(key));
  }

  async deleteMany(filter: Filter): Promise<number> {
    let removed = 0;
    this.atomically(() => {
      removed = this.deleteWhereSync(filter);
    });
    return removed;
  }

  /** A single write outside a commit: a little merging of the index, as a commit would do. */
  private atomically(work: () => void): void {
    if (this.db.inTransaction) {
      work();
      return;
    }
    this.db.transaction(work)();
    if (this.noteTextWrites(1)) this.mergeIndex();
  }

  /** Runs inside the store's transaction (see SqliteReadStore.commit). */
  applySync(changes: readonly DocChange[]): void {
    for (const change of changes) {
      if ('put' in change) this.putSync(change.put as T);
      else if ('delete' in change) this.deleteSync(change.delete);
      else this.deleteWhereSync(change.deleteWhere, change.limit);
    }
  }

  private putSync(doc: T): void {
    this.cache?.clear();
    const key = this.keyOf(doc);
    if (!this.ftsInsert || !this.options.fullText) {
      this.upsert.run(key, JSON.stringify(doc));
      return;
    }
    const text = this.options.fullText(doc);
    const hash = textHash(text);
    const existing = this.selectText.get(key);
    if (!existing) {
      this.ftsInsert.run(this.insertWithText.get(key, JSON.stringify(doc), hash)!.rid, text);
      return;
    }
    this.updateWithText.run(JSON.stringify(doc), hash, existing.rid);
    if (existing.text_hash !== hash) {
      this.ftsDelete!.run(existing.rid);
      this.ftsInsert.run(existing.rid, text);
    }
  }

  private deleteSync(key: string): void {
    this.cache?.clear();
    const row = this.remove.get(key);
    if (row && this.ftsDelete) this.ftsDelete.run(row.rid);
  }

  private deleteWhereSync(filter: Filter, limit?: number): number {
    this.cache?.clear();
    const where = this.where(filter);
    if (limit !== undefined) {
      const rows = this.statements.get<Scalar[], { rid: number }>(`SELECT rid FROM ${this.table} ${where.sql} LIMIT ?`).all(...where.params, limit);
      const remove = this.statements.get<[number]>(`DELETE FROM ${this.table} WHERE rid = ?`);
      for (const { rid } of rows) {
        this.ftsDelete?.run(rid);
        remove.run(rid);
      }
      return rows.length;
    }
    if (this.fts) {
      if (where.sql === '') this.statements.get(`INSERT INTO ${this.fts} (${this.fts}) VALUES ('delete-all')`).run();
      else this.statements.get<Scalar[]>(`DELETE FROM ${this.fts} WHERE rowid IN (SELECT rid FROM ${this.table} ${where.sql})`).run(...where.params);
    }
    return this.statements.get<Scalar[]>(`DELETE FROM ${this.table} ${where.sql}`).run(...where.params).changes;
  }

  /** Pages by row id: better-sqlite3 cannot write while a read on the same connection is open. */
  private reindex(): void {
    const page = this.db.prepare<[number], { rid: number; doc: string }>(`SELECT rid, doc FROM ${this.table} WHERE rid > ? ORDER BY rid LIMIT 1000`);
    const insert = this.db.prepare<[number, string]>(`INSERT INTO ${this.fts} (rowid, body) VALUES (?, ?)`);
    const hashed = this.db.prepare<[string, number]>(`UPDATE ${this.table} SET text_hash = ? WHERE rid = ?`);
    for (let after = 0; ; ) {
      const rows = page.all(after);
      for (const row of rows) {
        const text = this.options.fullText!(JSON.parse(row.doc) as T);
        insert.run(row.rid, text);
        hashed.run(textHash(text), row.rid);
      }
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.rid;
    }
  }

  private where(filter: Filter, text?: string): Where {
    const clauses: string[] = [];
    const params: Scalar[] = [];
    for (const [field, condition] of Object.entries(filter)) {
      assertName('field', field);
      if (condition !== null && typeof condition === 'object') {
        clauses.push(`EXISTS (SELECT 1 FROM json_each(doc, '$.${field}') WHERE value = ?)`);
        params.push(toSqlite(condition.$contains));
      } else if (condition === null) {
        clauses.push(`json_extract(doc, '$.${field}') IS NULL`);
      } else {
        clauses.push(`json_extract(doc, '$.${field}') = ?`);
        params.push(toSqlite(condition));
      }
    }
    if (text !== undefined) {
      if (!this.fts) throw new Error('This collection has no full-text index');
      const words = searchWords(text);
      if (words.length === 0) {
        clauses.push('0');
      } else {
        // Each word quoted and prefix-matched, so user input is never read as FTS5 syntax.
        clauses.push(`rid IN (SELECT rowid FROM ${this.fts} WHERE ${this.fts} MATCH ?)`);
        params.push(words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(' AND '));
      }
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }
}

/** Tells whether a document's text changed; 128 bits, so two different texts never pass for one. */
function textHash(text: string): string {
  return createHash('md5').update(text).digest('base64');
}

/** Tables written before documents had integer row ids (`id TEXT PRIMARY KEY, doc`). */
function hasLegacyLayout(db: SqliteDatabase, table: string): boolean {
  const columns = db.prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)').all(table);
  return columns.length > 0 && !columns.some((c) => c.name === 'rid');
}

/** json_extract yields 1/0 for JSON booleans, so bind them the same way. */
function toSqlite(value: Scalar): Scalar {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}
