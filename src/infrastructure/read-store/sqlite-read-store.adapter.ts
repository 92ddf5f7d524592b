import { openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';
import {
  assertName,
  type CollectionOptions,
  type Doc,
  type Filter,
  type FindOptions,
  type Page,
  type ReadCollection,
  type ReadStore,
  type Scalar,
  searchWords,
} from './read-store.port.js';

/** Documents as JSON in one table per collection; full text through an FTS5 table beside it. */
export class SqliteReadStore implements ReadStore {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly collections = new Map<string, SqliteCollection<Doc>>();

  constructor(file: string) {
    this.db = openSqlite(file, 'normal');
    this.db.exec('CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
  }

  /** The same file also holds the name index; it shares this connection. */
  get database(): SqliteDatabase {
    return this.db;
  }

  collection<T extends Doc>(name: string, options: CollectionOptions<T> = {}): ReadCollection<T> {
    assertName('collection', name);
    let existing = this.collections.get(name);
    if (!existing) {
      existing = new SqliteCollection<Doc>(this.db, name, options as CollectionOptions<Doc>);
      this.collections.set(name, existing);
    }
    return existing as unknown as ReadCollection<T>;
  }

  async batch<T>(work: () => Promise<T>): Promise<T> {
    if (this.db.inTransaction) return work();
    this.db.exec('BEGIN');
    try {
      return await work();
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  async getCheckpoint(name: string): Promise<number> {
    const row = this.db.prepare<[string], { position: number }>('SELECT position FROM checkpoints WHERE name = ?').get(name);
    return row?.position ?? 0;
  }

  async setCheckpoint(name: string, position: number): Promise<void> {
    this.db
      .prepare('INSERT INTO checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position')
      .run(name, position);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

class SqliteCollection<T extends Doc> implements ReadCollection<T> {
  private readonly table: string;
  private readonly fts: string;

  constructor(
    private readonly db: SqliteDatabase,
    name: string,
    private readonly options: CollectionOptions<T>,
  ) {
    this.table = `c_${name}`;
    this.fts = `fts_${name}`;
    db.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
    for (const field of options.indexes ?? []) {
      assertName('field', field);
      db.exec(`CREATE INDEX IF NOT EXISTS ${this.table}_${field} ON ${this.table} (json_extract(doc, '$.${field}'))`);
    }
    if (options.fullText) {
      db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${this.fts} USING fts5 (id UNINDEXED, body, tokenize = 'unicode61')`);
    }
  }

  async get(id: string): Promise<T | undefined> {
    const row = this.db.prepare<[string], { doc: string }>(`SELECT doc FROM ${this.table} WHERE id = ?`).get(id);
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async findOne(filter: Filter): Promise<T | undefined> {
    const { items } = await this.find(filter, { top: 1 });
    return items[0];
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<Page<T>> {
    const where = this.where(filter, options.text);
    const total = this.db.prepare<Scalar[], { n: number }>(`SELECT COUNT(*) AS n FROM ${this.table} ${where.sql}`).get(...where.params)?.n ?? 0;
    const order = (options.sort ?? []).map((s) => {
      assertName('field', s.field);
      return `json_extract(doc, '$.${s.field}') ${s.direction === 'desc' ? 'DESC' : 'ASC'}`;
    });
    order.push('id ASC');
    const limit = options.top ?? -1;
    const offset = options.skip ?? 0;
    const rows = this.db
      .prepare<Scalar[], { doc: string }>(`SELECT doc FROM ${this.table} ${where.sql} ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`)
      .all(...where.params, limit, offset);
    return { total, items: rows.map((r) => JSON.parse(r.doc) as T) };
  }

  async *iterate(filter: Filter): AsyncIterable<T> {
    const where = this.where(filter);
    const joiner = where.sql ? ' AND' : ' WHERE';
    const query = this.db.prepare<Scalar[], { id: string; doc: string }>(
      `SELECT id, doc FROM ${this.table} ${where.sql}${joiner} id > ? ORDER BY id LIMIT 200`,
    );
    let after = '';
    for (;;) {
      const rows = query.all(...where.params, after);
      for (const row of rows) yield JSON.parse(row.doc) as T;
      if (rows.length < 200) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async count(filter: Filter): Promise<number> {
    return (await this.find(filter, { top: 0 })).total;
  }

  async put(doc: T): Promise<void> {
    const key = this.options.key ? this.options.key(doc) : doc.id;
    const write = this.db.transaction(() => {
      this.db
        .prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`)
        .run(key, JSON.stringify(doc));
      if (this.options.fullText) {
        this.db.prepare(`DELETE FROM ${this.fts} WHERE id = ?`).run(key);
        this.db.prepare(`INSERT INTO ${this.fts} (id, body) VALUES (?, ?)`).run(key, this.options.fullText(doc));
      }
    });
    write();
  }

  async delete(id: string): Promise<void> {
    this.db.prepare(`DELETE FROM ${this.table} WHERE id = ?`).run(id);
    if (this.options.fullText) this.db.prepare(`DELETE FROM ${this.fts} WHERE id = ?`).run(id);
  }

  async deleteMany(filter: Filter): Promise<number> {
    const where = this.where(filter);
    const remove = this.db.transaction(() => {
      if (this.options.fullText) {
        this.db.prepare(`DELETE FROM ${this.fts} WHERE id IN (SELECT id FROM ${this.table} ${where.sql})`).run(...where.params);
      }
      return this.db.prepare(`DELETE FROM ${this.table} ${where.sql}`).run(...where.params).changes;
    });
    return remove();
  }

  private where(filter: Filter, text?: string): { sql: string; params: Scalar[] } {
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
      if (!this.options.fullText) throw new Error('This collection has no full-text index');
      const words = searchWords(text);
      if (words.length === 0) {
        clauses.push('0');
      } else {
        // Each word quoted and prefix-matched, so user input is never read as FTS5 syntax.
        clauses.push(`id IN (SELECT id FROM ${this.fts} WHERE ${this.fts} MATCH ?)`);
        params.push(words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(' AND '));
      }
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }
}

/** json_extract yields 1/0 for JSON booleans, so bind them the same way. */
function toSqlite(value: Scalar): Scalar {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}
