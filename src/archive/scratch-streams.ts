import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NewEvent, StoredEvent } from '../infrastructure/event-store/event-store.port.js';

interface Row {
  version: number;
  type: string;
  data: string;
  metadata: string;
}

/** Rows between commits; reads on the same connection see rows not yet committed. */
const COMMIT_EVERY = 5000;

/**
 * Where an offline check keeps the events it has let through, as a restore would have appended
 * them: a throwaway SQLite file under the system's temp folder, deleted by `close`. The restore
 * validator keeps the states of recent streams in memory and folds a stream again from the store
 * only when it fell out, so memory stays bounded for archives of any size and the store is read
 * rarely. Nothing here is the installation's event store. With `dir` (a server's DATA_DIR/tmp, an
 * offline command's own folder, which it removes when a signal stops it) the file goes there,
 * like ScratchKeys' file.
 */
export class ScratchStreams {
  /** The folder this made for itself (removed by `close`), or none when the file went to a given one. */
  private readonly ownDir: string | undefined;
  private readonly file: string;
  private readonly db;
  private readonly insert;
  private readonly select;
  private pending = 0;

  constructor(dir?: string) {
    if (dir) {
      mkdirSync(dir, { recursive: true });
      this.file = join(dir, `scratch-streams-${randomUUID()}.sqlite`);
    } else {
      this.ownDir = mkdtempSync(join(tmpdir(), 'appvault-check-'));
      this.file = join(this.ownDir, 'streams.db');
    }
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec('CREATE TABLE events (stream TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, PRIMARY KEY (stream, version)) WITHOUT ROWID');
    this.insert = this.db.prepare<[string, number, string, string, string]>('INSERT INTO events (stream, version, type, data, metadata) VALUES (?, ?, ?, ?, ?)');
    this.select = this.db.prepare<[string], Row>('SELECT version, type, data, metadata FROM events WHERE stream = ? ORDER BY version');
    this.db.exec('BEGIN');
  }

  append(stream: string, version: number, event: NewEvent): void {
    this.insert.run(stream, version, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
    if (++this.pending >= COMMIT_EVERY) {
      this.db.exec('COMMIT; BEGIN');
      this.pending = 0;
    }
  }

  async *readStream(stream: string): AsyncIterable<StoredEvent> {
    for (const row of this.select.all(stream)) {
      yield { stream, streamVersion: row.version, position: 0, type: row.type, data: JSON.parse(row.data) as Record<string, unknown>, metadata: JSON.parse(row.metadata) as StoredEvent['metadata'] };
    }
  }

  close(): void {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
    } finally {
      if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
      else for (const file of [this.file, `${this.file}-journal`]) rmSync(file, { force: true });
    }
  }
}
