import { mkdtempSync, rmSync } from 'node:fs';
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
 * rarely. Nothing here is the installation's event store.
 */
export class ScratchStreams {
  private readonly dir = mkdtempSync(join(tmpdir(), 'appvault-check-'));
  private readonly db = new Database(join(this.dir, 'streams.db'));
  private readonly insert;
  private readonly select;
  private pending = 0;

  constructor() {
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
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
