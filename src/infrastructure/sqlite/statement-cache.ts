import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './open-sqlite.js';

/**
 * Prepared statements by their SQL, so a query that runs on every request is compiled once per
 * connection (preparing one costs more than running it). Bounded: dynamic queries (a read
 * store's find, count, deleteWhere) vary by the shape of a filter, not its values, so a few dozen
 * shapes; the oldest goes first should one ever make more.
 */
export class StatementCache {
  private readonly cache = new Map<string, Statement>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly max = 500,
  ) {}

  get<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let statement = this.cache.get(sql);
    if (!statement) {
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement as unknown as Statement<P, R>;
  }
}
