import { randomUUID } from 'node:crypto';
import type { SqliteDatabase } from '../sqlite/open-sqlite.js';
import { type NameEntry, type NameIndex, NameUnavailableError, ReservationLostError } from './name-index.port.js';

interface Row {
  name: string;
  state: 'reserved' | 'committed';
  app_id: string | null;
  token: string | null;
  expires_at: number | null;
}

export class SqliteNameIndex implements NameIndex {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS name_index (
      name TEXT PRIMARY KEY, state TEXT NOT NULL, app_id TEXT, token TEXT, expires_at INTEGER)`);
  }

  async reserve(name: string, ttlMs: number): Promise<string> {
    const token = randomUUID();
    this.db.transaction(() => {
      const row = this.row(name);
      if (row?.state === 'committed') throw new NameUnavailableError(name, 'taken');
      if (row && (row.expires_at ?? 0) > this.now()) throw new NameUnavailableError(name, 'reserved');
      this.db
        .prepare(
          `INSERT INTO name_index (name, state, app_id, token, expires_at) VALUES (?, 'reserved', NULL, ?, ?)
           ON CONFLICT(name) DO UPDATE SET state = 'reserved', app_id = NULL, token = excluded.token, expires_at = excluded.expires_at`,
        )
        .run(name, token, this.now() + ttlMs);
    })();
    return token;
  }

  async renew(name: string, token: string, ttlMs: number): Promise<void> {
    const changes = this.db
      .prepare(`UPDATE name_index SET expires_at = ? WHERE name = ? AND token = ? AND state = 'reserved'`)
      .run(this.now() + ttlMs, name, token).changes;
    if (changes === 0) throw new ReservationLostError(name);
  }

  async commit(name: string, token: string, appId: string): Promise<void> {
    const changes = this.db
      .prepare(`UPDATE name_index SET state = 'committed', app_id = ?, expires_at = NULL WHERE name = ? AND token = ? AND state = 'reserved'`)
      .run(appId, name, token).changes;
    if (changes === 0) throw new ReservationLostError(name);
  }

  async release(name: string, token: string): Promise<void> {
    this.db.prepare(`DELETE FROM name_index WHERE name = ? AND token = ? AND state = 'reserved'`).run(name, token);
  }

  async releaseApp(name: string, appId: string): Promise<void> {
    this.db.prepare(`DELETE FROM name_index WHERE name = ? AND app_id = ? AND state = 'committed'`).run(name, appId);
  }

  async lookup(name: string): Promise<NameEntry | undefined> {
    const row = this.row(name);
    if (!row) return undefined;
    if (row.state === 'reserved' && (row.expires_at ?? 0) <= this.now()) return undefined;
    return {
      name: row.name,
      state: row.state,
      ...(row.app_id ? { appId: row.app_id } : {}),
      ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    };
  }

  private row(name: string): Row | undefined {
    return this.db.prepare<[string], Row>('SELECT * FROM name_index WHERE name = ?').get(name);
  }
}
