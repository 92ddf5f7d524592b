import { EventEmitter } from 'node:events';
import { openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';
import {
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadRange,
  type StreamWrite,
  type StoredEvent,
  type Subscription,
  WrongExpectedVersionError,
} from './event-store.port.js';

interface EventRow {
  position: number;
  stream: string;
  stream_version: number;
  type: string;
  data: string;
  metadata: string;
}

const DEFAULT_BATCH = 500;
/** Safety net for followers: appends notify in-process, the poll only covers what a notify could miss. */
const POLL_MS = 1000;

/** The embedded default: one SQLite file, one table of events, positions from an autoincrement key. */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly appended = new EventEmitter();
  private readonly insert;
  private readonly versionOf;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        stream_version INTEGER NOT NULL,
        app_id TEXT,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        UNIQUE (stream, stream_version)
      );
      CREATE INDEX IF NOT EXISTS events_by_app ON events (app_id, position) WHERE app_id IS NOT NULL;
    `);
    this.appended.setMaxListeners(0);
    this.insert = this.db.prepare(
      'INSERT INTO events (stream, stream_version, app_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.versionOf = this.db.prepare<[string], { v: number | null }>(
      'SELECT MAX(stream_version) AS v FROM events WHERE stream = ?',
    );
  }

  async append(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult> {
    const result = this.db.transaction(() => this.write(stream, events, expectedVersion))();
    this.appended.emit('appended', result.position);
    return result;
  }

  async appendMany(writes: StreamWrite[]): Promise<{ position: number }> {
    if (writes.length === 0) throw new Error('appendMany needs at least one write');
    const position = this.db.transaction(() => {
      let last = 0;
      for (const w of writes) last = this.write(w.stream, w.events, w.expectedVersion).position;
      return last;
    })();
    this.appended.emit('appended', position);
    return { position };
  }

  /** Runs inside a transaction: better-sqlite3 is synchronous, so check and insert cannot interleave. */
  private write(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): AppendResult {
    if (events.length === 0) throw new Error('append needs at least one event');
    const current = this.currentVersion(stream);
    if (expectedVersion !== 'any' && expectedVersion !== current) {
      throw new WrongExpectedVersionError(stream, expectedVersion, current);
    }
    let version = current;
    let position = 0;
    for (const event of events) {
      version += 1;
      const info = this.insert.run(
        stream,
        version,
        event.metadata.appId ?? null,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
      );
      position = Number(info.lastInsertRowid);
    }
    return { streamVersion: version, position };
  }

  async streamVersion(stream: string): Promise<number> {
    return this.currentVersion(stream);
  }

  async *readStream(stream: string, fromVersion = 0): AsyncIterable<StoredEvent> {
    const query = this.db.prepare<[string, number, number], EventRow>(
      'SELECT * FROM events WHERE stream = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?',
    );
    let next = fromVersion;
    for (;;) {
      const rows = query.all(stream, next, DEFAULT_BATCH);
      for (const row of rows) yield toStored(row);
      if (rows.length < DEFAULT_BATCH) return;
      next = rows[rows.length - 1]!.stream_version + 1;
    }
  }

  readApp(appId: string, range: ReadRange = {}): AsyncIterable<StoredEvent> {
    const query = this.db.prepare<[string, number, number, number], EventRow>(
      'SELECT * FROM events WHERE app_id = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?',
    );
    return this.paged(range, (after, until, limit) => query.all(appId, after, until, limit));
  }

  readAll(range: ReadRange = {}): AsyncIterable<StoredEvent> {
    const query = this.db.prepare<[number, number, number], EventRow>(
      'SELECT * FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?',
    );
    return this.paged(range, (after, until, limit) => query.all(after, until, limit));
  }

  subscribe(
    after: number,
    handler: (event: StoredEvent) => Promise<void>,
    onError: (error: Error) => void,
  ): Subscription {
    let closed = false;
    let wake: (() => void) | undefined;
    const onAppend = () => wake?.();
    this.appended.on('appended', onAppend);
    const loop = async () => {
      let checkpoint = after;
      while (!closed) {
        let delivered = 0;
        for await (const event of this.readAll({ after: checkpoint })) {
          if (closed) return;
          await handler(event);
          checkpoint = event.position;
          delivered += 1;
        }
        if (delivered === 0 && !closed) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, POLL_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      }
    };
    const running = loop().catch((error: unknown) => {
      if (!closed) onError(error instanceof Error ? error : new Error(String(error)));
    });
    return {
      close: async () => {
        closed = true;
        this.appended.off('appended', onAppend);
        wake?.();
        await running;
      },
    };
  }

  async headPosition(): Promise<number> {
    const row = this.db.prepare<[], { p: number | null }>('SELECT MAX(position) AS p FROM events').get();
    return row?.p ?? 0;
  }

  async deleteApp(appId: string): Promise<void> {
    this.db.prepare('DELETE FROM events WHERE app_id = ?').run(appId);
  }

  async close(): Promise<void> {
    this.appended.removeAllListeners();
    if (this.db.open) this.db.close();
  }

  private currentVersion(stream: string): number {
    return this.versionOf.get(stream)?.v ?? -1;
  }

  /** Keyset paging: memory stays bounded by one batch however long the history is. */
  private async *paged(
    range: ReadRange,
    fetch: (after: number, until: number, limit: number) => EventRow[],
  ): AsyncIterable<StoredEvent> {
    const batch = range.batchSize ?? DEFAULT_BATCH;
    const until = range.until ?? Number.MAX_SAFE_INTEGER;
    let after = range.after ?? 0;
    for (;;) {
      const rows = fetch(after, until, batch);
      for (const row of rows) yield toStored(row);
      if (rows.length < batch) return;
      after = rows[rows.length - 1]!.position;
    }
  }
}

function toStored(row: EventRow): StoredEvent {
  return {
    stream: row.stream,
    streamVersion: row.stream_version,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data) as Record<string, unknown>,
    metadata: JSON.parse(row.metadata) as StoredEvent['metadata'],
  };
}
