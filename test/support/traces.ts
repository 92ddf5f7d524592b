import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The keys of one kind of claim in a DATA_DIR's claims file, read straight from it. */
export function claimsOf(dataDir: string, kind: string): string[] {
  const db = new Database(join(dataDir, 'claims.db'), { readonly: true });
  try {
    return (db.prepare('SELECT key FROM claims WHERE kind = ? ORDER BY key').all(kind) as { key: string }[]).map((row) => row.key);
  } finally {
    db.close();
  }
}

/**
 * Everything of an app that could be left behind in a DATA_DIR: events, read-model rows (any
 * collection, any field naming the app), asset blobs. Read straight from the files, read-only.
 */
export function traces(dataDir: string, appId: string): { events: number; readRows: number; blobs: number } {
  const events = new Database(join(dataDir, 'events.db'), { readonly: true });
  const read = new Database(join(dataDir, 'read.db'), { readonly: true });
  try {
    const eventCount = (events.prepare('SELECT COUNT(*) AS n FROM events WHERE app_id = ? OR stream LIKE ?').get(appId, `%${appId}%`) as { n: number }).n;
    let readRows = 0;
    const tables = read.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'c\\_%' ESCAPE '\\' AND name NOT IN ('c_purged_apps', 'c_restore_jobs', 'c_backup_jobs')`).all() as { name: string }[];
    for (const { name } of tables) {
      readRows += (read.prepare(`SELECT COUNT(*) AS n FROM ${name} WHERE id LIKE ? OR doc LIKE ?`).get(`%${appId}%`, `%${appId}%`) as { n: number }).n;
    }
    const blobDir = join(dataDir, 'blobs', 'assets', appId);
    const blobs = existsSync(blobDir) ? readdirSync(blobDir, { recursive: true }).length : 0;
    return { events: eventCount, readRows, blobs };
  } finally {
    events.close();
    read.close();
  }
}
