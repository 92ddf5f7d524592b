import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Writes between commits; reads on the same connection see rows not yet committed. */
const COMMIT_EVERY = 5000;
/** SQLite's page cache for the file, in KiB: what the keys may hold in memory, whatever their number. */
const CACHE_KIB = 4096;

/**
 * What a job's checks keep for every stream or entry of an archive (the streams seen, the file
 * names the events name, each content's schema…): named sets of keys, and keys with a value, in a
 * throwaway SQLite file instead of the heap, so memory stays flat at any number of streams (a JS
 * string in a Map or Set costs about 100–200 bytes, times 400,000 streams at 1M events). Each call
 * is one indexed statement of a few microseconds; writes are committed every COMMIT_EVERY rows, so
 * no call holds the main thread long. The file lives under `dir` (a restore's: DATA_DIR/tmp, which
 * start-up empties, so a crash leaves nothing behind for long) or, without one, in a folder of its
 * own under the system's temp folder; `close` removes it.
 */
export class ScratchKeys {
  private readonly db: Database.Database;
  private readonly sets = new Map<string, number>();
  private readonly insert: Database.Statement<[number, string, string]>;
  private readonly replace: Database.Statement<[number, string, string]>;
  private readonly select: Database.Statement<[number, string], { value: string }>;
  private readonly first: Database.Statement<[number, number], { key: string }>;
  private readonly after: Database.Statement<[number, string, number], { key: string }>;
  private writes = 0;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly ownDir: string | undefined,
  ) {
    this.db = new Database(file);
    try {
      // Scratch data: nothing here needs to survive a crash (better-sqlite3's defensive mode keeps a rollback journal, next to the file).
      this.db.pragma('synchronous = OFF');
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma(`cache_size = -${CACHE_KIB}`);
      this.db.exec('CREATE TABLE keys (tag INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (tag, key)) WITHOUT ROWID');
      this.insert = this.db.prepare('INSERT OR IGNORE INTO keys (tag, key, value) VALUES (?, ?, ?)');
      this.replace = this.db.prepare('INSERT OR REPLACE INTO keys (tag, key, value) VALUES (?, ?, ?)');
      this.select = this.db.prepare('SELECT value FROM keys WHERE tag = ? AND key = ?');
      this.first = this.db.prepare('SELECT key FROM keys WHERE tag = ? ORDER BY key LIMIT ?');
      this.after = this.db.prepare('SELECT key FROM keys WHERE tag = ? AND key > ? ORDER BY key LIMIT ?');
      this.db.exec('BEGIN');
    } catch (error) {
      this.db.close();
      this.removeFile();
      throw error;
    }
  }

  /** A new, empty file under `dir`, or under a folder of its own in the system's temp folder. */
  static create(dir?: string): ScratchKeys {
    if (dir) {
      mkdirSync(dir, { recursive: true });
      return new ScratchKeys(join(dir, `scratch-keys-${randomUUID()}.sqlite`), undefined);
    }
    const own = mkdtempSync(join(tmpdir(), 'appvault-keys-'));
    return new ScratchKeys(join(own, 'keys.sqlite'), own);
  }

  /** Adds `key` to `set`; true when it was not there yet. */
  add(set: string, key: string): boolean {
    const added = this.insert.run(this.tag(set), key, '').changes > 0;
    if (added) this.wrote();
    return added;
  }

  has(set: string, key: string): boolean {
    return this.select.get(this.tag(set), key) !== undefined;
  }

  /** Sets `key` of map `set` to `value` (a later call replaces it). */
  put(set: string, key: string, value: string): void {
    this.replace.run(this.tag(set), key, value);
    this.wrote();
  }

  get(set: string, key: string): string | undefined {
    return this.select.get(this.tag(set), key)?.value;
  }

  /**
   * The keys of `set` in order, in pages of `size`: each page is one statement, so a caller can give
   * the event loop its turns between pages (no statement stays open across them).
   */
  *pages(set: string, size = 1000): Generator<string[]> {
    const tag = this.tag(set);
    let last: string | undefined;
    for (;;) {
      const page = (last === undefined ? this.first.all(tag, size) : this.after.all(tag, last, size)).map((row) => row.key);
      if (page.length === 0) return;
      yield page;
      last = page.at(-1)!;
    }
  }

  /** Removes the file; the keys are gone. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
    } finally {
      this.removeFile();
    }
  }

  private tag(set: string): number {
    let tag = this.sets.get(set);
    if (tag === undefined) {
      tag = this.sets.size;
      this.sets.set(set, tag);
    }
    return tag;
  }

  private wrote(): void {
    if (++this.writes % COMMIT_EVERY === 0) this.db.exec('COMMIT; BEGIN');
  }

  private removeFile(): void {
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
    else for (const file of [this.file, `${this.file}-journal`]) rmSync(file, { force: true });
  }
}
