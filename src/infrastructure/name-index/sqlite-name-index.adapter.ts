import { randomUUID } from 'node:crypto';
import { openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';
import { StatementCache } from '../sqlite/statement-cache.js';
import { type Claim, type NameEntry, type NameIndex, NameUnavailableError, ReservationLostError, type StoreClockOptions } from './name-index.port.js';

interface Row {
  kind: Claim['kind'];
  scope: string;
  key: string;
  state: 'reserved' | 'committed';
  owner: string | null;
  holder: string | null;
  token: string | null;
  expires_at: number | null;
}

const KEY = 'kind = ? AND scope = ? AND key = ?';
/**
 * The store's time in epoch milliseconds, read by SQLite itself, plus the test shift (a bound
 * parameter, 0 in production). It is this machine's clock either way, but asking SQL for it keeps
 * the rule the same as on MongoDB, where the server's clock decides: expiry is judged by the
 * store, never by the clock of the process that asks.
 */
const NOW = `(CAST(unixepoch('subsec') * 1000 AS INTEGER) + ?)`;

/**
 * The claims table in the read-model database. Each operation is one statement or one
 * transaction; SQLite's write lock (with a busy timeout) decides races, also between processes
 * that open the same file.
 */
export class SqliteNameIndex implements NameIndex {
  private readonly shift: () => number;
  /** Writes look a claim up on every append (a rollback of the app elsewhere holds them), so each statement is prepared once. */
  private readonly statements: StatementCache;

  constructor(
    private readonly db: SqliteDatabase,
    options: StoreClockOptions = {},
  ) {
    this.shift = options.shiftMs ?? (() => 0);
    this.statements = new StatementCache(db);
    db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS claims (
        kind TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
        owner TEXT, holder TEXT, token TEXT, expires_at INTEGER,
        PRIMARY KEY (kind, scope, key)) WITHOUT ROWID`);
    }).immediate();
  }

  /**
   * Opens the claims in their own file, fsynced like the events: unlike read models they cannot be
   * rebuilt, so deleting read.db to rebuild projections must not free every name.
   */
  static open(file: string): SqliteNameIndex {
    return new SqliteNameIndex(openSqlite(file, 'full'));
  }

  /**
   * Before claims were generalised and moved to their own file, app names were kept in the read
   * models' database as `name_index`; moves them here once.
   */
  importLegacy(readModels: SqliteDatabase): number {
    const legacy = readModels.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'name_index'`).get();
    if (!legacy) return 0;
    const rows = readModels.prepare<[], { name: string; state: 'reserved' | 'committed'; app_id: string | null; token: string | null; expires_at: number | null }>('SELECT * FROM name_index').all();
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO claims (kind, scope, key, state, owner, holder, token, expires_at) VALUES ('app-name', '', ?, ?, ?, NULL, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const row of rows) insert.run(row.name, row.state, row.app_id, row.token, row.expires_at);
    })();
    readModels.exec('DROP TABLE name_index');
    return rows.length;
  }

  /**
   * Drops every reservation. Only for a process that knows it is the file's only user (the server
   * holds the DATA_DIR lock): whatever is reserved then was left by a process that died, and waiting
   * for it to expire would only delay recovery.
   */
  forgetReservations(): number {
    return this.db.prepare(`DELETE FROM claims WHERE state = 'reserved'`).run().changes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async reserve(claim: Claim, ttlMs: number, holder?: string): Promise<string> {
    const token = randomUUID();
    const shift = this.shift();
    this.db
      .transaction(() => {
        // Inserts a new reservation, or replaces one that expired by the store's clock; a committed
        // claim or a live reservation is left as it is, and the refusal says which.
        const { changes } = this.statements
      .get(
            `INSERT INTO claims (kind, scope, key, state, owner, holder, token, expires_at) VALUES (?, ?, ?, 'reserved', NULL, ?, ?, ${NOW} + ?)
             ON CONFLICT(kind, scope, key) DO UPDATE SET state = 'reserved', owner = NULL, holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
             WHERE claims.state = 'reserved' AND COALESCE(claims.expires_at, 0) <= ${NOW}`,
          )
          .run(claim.kind, claim.scope, claim.key, holder ?? null, token, shift, ttlMs, shift);
        if (changes > 0) return;
        const row = this.row(claim)!;
        throw new NameUnavailableError(claim, row.state === 'committed' ? 'taken' : 'reserved', row.holder ?? undefined);
      })
      // IMMEDIATE takes the write lock before anything is read, so two processes cannot both see the claim free.
      .immediate();
    return token;
  }

  async renew(claim: Claim, token: string, ttlMs: number): Promise<void> {
    const shift = this.shift();
    const changes = this.statements
      .get(`UPDATE claims SET expires_at = ${NOW} + ? WHERE ${KEY} AND token = ? AND state = 'reserved' AND expires_at > ${NOW}`)
      .run(shift, ttlMs, claim.kind, claim.scope, claim.key, token, shift).changes;
    if (changes === 0) throw new ReservationLostError(claim);
  }

  async handOver(claim: Claim, token: string, ttlMs: number, holder?: string): Promise<string> {
    const next = randomUUID();
    const shift = this.shift();
    const changes = this.statements
      .get(`UPDATE claims SET token = ?, holder = ?, expires_at = ${NOW} + ? WHERE ${KEY} AND token = ? AND state = 'reserved' AND expires_at > ${NOW}`)
      .run(next, holder ?? null, shift, ttlMs, claim.kind, claim.scope, claim.key, token, shift).changes;
    if (changes === 0) throw new ReservationLostError(claim);
    return next;
  }

  async commit(claim: Claim, token: string, owner: string): Promise<void> {
    const changes = this.statements
      .get(`UPDATE claims SET state = 'committed', owner = ?, expires_at = NULL WHERE ${KEY} AND token = ? AND state = 'reserved'`)
      .run(owner, claim.kind, claim.scope, claim.key, token).changes;
    if (changes === 0) throw new ReservationLostError(claim);
  }

  async release(claim: Claim, token: string): Promise<void> {
    this.statements.get(`DELETE FROM claims WHERE ${KEY} AND token = ? AND state = 'reserved'`).run(claim.kind, claim.scope, claim.key, token);
  }

  async releaseOwned(claim: Claim, owner: string): Promise<void> {
    this.statements.get(`DELETE FROM claims WHERE ${KEY} AND owner = ? AND state = 'committed'`).run(claim.kind, claim.scope, claim.key, owner);
  }

  async lookup(claim: Claim): Promise<NameEntry | undefined> {
    const row = this.statements
      .get<unknown[], Row & { expired: number }>(`SELECT *, (state = 'reserved' AND COALESCE(expires_at, 0) <= ${NOW}) AS expired FROM claims WHERE ${KEY}`)
      .get(this.shift(), claim.kind, claim.scope, claim.key);
    if (!row || row.expired) return undefined;
    return {
      claim: { kind: row.kind, scope: row.scope, key: row.key },
      state: row.state,
      ...(row.owner ? { owner: row.owner } : {}),
      ...(row.holder ? { holder: row.holder } : {}),
      ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    };
  }

  private row(claim: Claim): Row | undefined {
    return this.statements.get<[string, string, string], Row>(`SELECT * FROM claims WHERE ${KEY}`).get(claim.kind, claim.scope, claim.key);
  }
}
