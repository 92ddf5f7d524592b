import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

const READ_MODEL_CACHE_KB = 32 * 1024;

/**
 * Opens a SQLite file the way AppVault needs it: WAL so readers never block the writer, and a
 * busy timeout so a second connection (tests, a restarted process) waits instead of failing.
 *
 * `full` (the event store, the source of truth): every commit is fsynced and survives a power cut.
 * `normal` (read models and job state, rebuildable or recoverable): in WAL mode a commit still
 * survives a crash of the process; only a power cut can undo the last few, and the projector's
 * checkpoint lives in the same file, so it rolls back with them and the events are replayed.
 * That saves an fsync per projected event, which is what makes replaying millions of them fast.
 */
export function openSqlite(file: string, durability: 'full' | 'normal' = 'full'): SqliteDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(durability === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // Read models are written at random places all over their indexes (the event log only at its
  // end): SQLite's default 2 MB page cache makes a large installation's projection read most
  // index pages from the OS again. The bound is what the page cache may add to the process's memory.
  if (durability === 'normal') db.pragma(`cache_size = -${READ_MODEL_CACHE_KB}`);
  db.pragma('foreign_keys = ON');
  return db;
}
