import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Statement } from 'better-sqlite3';
import { openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';
import {
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type HistoryCursor,
  InvalidCursorError,
  type NewEvent,
  type NumberedEvent,
  type ReadRange,
  type StreamWrite,
  type StoredEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
  WrongExpectedVersionError,
} from './event-store.port.js';
import { type GroupOutcome, SqliteAppendWorker } from './sqlite-append.worker.js';
import { APPEND_SQL, type AppendStatements, writeStreamRows } from './sqlite-event-rows.js';

interface EventRow {
  position: number;
  app_id: string | null;
  stream: string;
  stream_version: number;
  app_number: number | null;
  type: string;
  data: string;
  metadata: string;
}

const DEFAULT_BATCH = 500;
/** Safety net for followers: appends notify in-process, the poll only covers what a notify could miss. */
const POLL_MS = 1000;
/** A group commit stops taking more appends past this many events; the rest go in the next one. */
const GROUP_MAX_EVENTS = 5000;
/**
 * An appendMany this large is written off the main thread (SqliteAppendWorker): one transaction
 * of it takes about 8 µs per event, too long to hold the event loop.
 */
const OFF_THREAD_EVENTS = 2000;

interface PendingAppend {
  writes: StreamWrite[];
  resolve: (results: AppendResult[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The embedded default: one SQLite file, one table of events, positions from an autoincrement key.
 *
 * Appends are group-committed: those that arrive in the same turn of the event loop (concurrent
 * requests) are written in one transaction, one fsync for all of them, each inside its own
 * savepoint so a version conflict fails only its own append. A caller's promise resolves only
 * after the commit, so an acknowledged write survives a crash (`synchronous=FULL`). The commits run
 * on the append worker's connection (SqliteAppendWorker), one at a time: the main thread serves
 * requests while a commit waits for its fsync, and the appends that arrive meanwhile make the next
 * group. Reads stay on this connection (WAL: they never wait for the writer).
 */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDatabase;
  private readonly appended = new EventEmitter();
  private readonly appendStatements: AppendStatements;
  private readonly streamQuery: Statement<[string, number, number], EventRow>;
  private readonly appQuery: Statement<[string, number, number, number], EventRow>;
  private readonly appPageQuery: Statement<[string, number, number], EventRow>;
  private readonly appNumberAt: Statement<[string, number], { app_number: number | null }>;
  private readonly appEventPosition: Statement<[string, number], { position: number }>;
  private readonly allQuery: Statement<[number, number, number], EventRow>;
  private readonly headQuery: Statement<[], { p: number | null }>;
  private readonly headsQuery: Statement<[number, number], { position: number; app_id: string | null }>;
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  /** Set while the worker commits (a group, or a large append): the next waits for it, so commits stay in order. */
  private offThread: Promise<unknown> | undefined;
  /** Set by close: what is still queued is committed there, on this connection. */
  private closing = false;
  private worker: SqliteAppendWorker | undefined;

  constructor(private readonly file: string) {
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
        app_number INTEGER,
        UNIQUE (stream, stream_version)
      );
      CREATE INDEX IF NOT EXISTS events_by_app ON events (app_id, position) WHERE app_id IS NOT NULL;
    `);
    numberAppEventsOfOlderFiles(this.db);
    this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS events_by_app_number ON events (app_id, app_number) WHERE app_id IS NOT NULL');
    this.appended.setMaxListeners(0);
    this.appendStatements = {
      insert: this.db.prepare<[string, number, string | null, number | null, string, string, string]>(APPEND_SQL.insert),
      versionOf: this.db.prepare<[string], { v: number | null }>(APPEND_SQL.versionOf),
      lastAppNumber: this.db.prepare<[string], { n: number | null }>(APPEND_SQL.lastAppNumber),
    };
    this.streamQuery = this.db.prepare('SELECT * FROM events WHERE stream = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?');
    this.appQuery = this.db.prepare('SELECT * FROM events WHERE app_id = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?');
    this.appPageQuery = this.db.prepare('SELECT * FROM events WHERE app_id = ? AND app_number > ? ORDER BY app_number LIMIT ?');
    this.appNumberAt = this.db.prepare('SELECT app_number FROM events WHERE app_id = ? AND position <= ? ORDER BY position DESC LIMIT 1');
    this.appEventPosition = this.db.prepare('SELECT position FROM events WHERE app_id = ? AND app_number = ?');
    this.allQuery = this.db.prepare('SELECT * FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?');
    this.headQuery = this.db.prepare('SELECT MAX(position) AS p FROM events');
    this.headsQuery = this.db.prepare('SELECT position, app_id FROM events WHERE position > ? ORDER BY position LIMIT ?');
  }

  async append(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const [result] = await this.enqueue([{ stream, events, expectedVersion }]);
    return result!;
  }

  async appendMany(writes: StreamWrite[]): Promise<{ position: number }> {
    if (writes.length === 0) throw new Error('appendMany needs at least one write');
    if (writes.some((w) => w.events.length === 0)) throw new Error('append needs at least one event');
    const events = writes.reduce((n, w) => n + w.events.length, 0);
    if (events >= OFF_THREAD_EVENTS && this.file !== ':memory:') return this.appendOffThread(writes);
    const results = await this.enqueue(writes);
    return { position: results[results.length - 1]!.position };
  }

  /** One large append, all or nothing, written by the worker while group commits wait. */
  private async appendOffThread(writes: StreamWrite[]): Promise<{ position: number }> {
    // One at a time; appends queued meanwhile are committed right after.
    while (this.offThread) await this.offThread.catch(() => undefined);
    if (!this.db.open) throw new Error('The event store is closed');
    if (!this.worker?.alive) this.worker = new SqliteAppendWorker(this.file);
    const written = this.worker.append(writes);
    this.offThread = written;
    try {
      const position = await written;
      this.appended.emit('appended', position);
      return { position };
    } finally {
      this.offThread = undefined;
      if (this.queue.length > 0 && !this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
  }

  async streamVersion(stream: string): Promise<number> {
    return this.currentVersion(stream);
  }

  async *readStream(stream: string, fromVersion = 0): AsyncIterable<StoredEvent> {
    let next = fromVersion;
    for (;;) {
      const rows = this.streamQuery.all(stream, next, DEFAULT_BATCH);
      for (const row of rows) yield toStored(row);
      if (rows.length < DEFAULT_BATCH) return;
      next = rows[rows.length - 1]!.stream_version + 1;
    }
  }

  readApp(appId: string, range: ReadRange = {}): AsyncIterable<StoredEvent> {
    return this.paged(range, (after, until, limit) => this.appQuery.all(appId, after, until, limit));
  }

  async readAppPage(appId: string, after: HistoryCursor, limit: number): Promise<NumberedEvent[]> {
    // Pages go by number here; a cursor's position is only checked, so a made-up one is refused as on EventStoreDB.
    if (after.position && this.appEventPosition.get(appId, after.number)?.position !== after.position) throw new InvalidCursorError(after);
    return this.appPageQuery.all(appId, after.number, limit).map((row) => ({ ...toStored(row), number: row.app_number! }));
  }

  /**
   * Positions here are the events' sequence numbers, so this is the difference to the head: no
   * rows are read (health asks often). Events of purged apps leave gaps, so after a failed restore
   * this may count a few events that no longer exist.
   */
  async countAfter(position: number, limit: number): Promise<number> {
    return Math.max(0, Math.min(limit, (await this.headPosition()) - position));
  }

  /** The number of the app's last event at `until`: one index lookup, however long the history. */
  async countApp(appId: string, until: number): Promise<number> {
    return this.appNumberAt.get(appId, until)?.app_number ?? 0;
  }

  readAll(range: ReadRange = {}): AsyncIterable<StoredEvent> {
    return this.paged(range, (after, until, limit) => this.allQuery.all(after, until, limit));
  }

  subscribe(after: number, handler: SubscriptionHandler, onError: (error: Error) => void, options: SubscribeOptions = {}): Subscription {
    let closed = false;
    let wake: (() => void) | undefined;
    const onAppend = () => wake?.();
    this.appended.on('appended', onAppend);
    const loop = async () => {
      let checkpoint = after;
      while (!closed) {
        const skip = options.skip;
        // Which apps the next events belong to first (no payloads read), so the events of apps the
        // subscriber drops (a restore writing a million of them) are never fetched at all.
        const heads = this.headsQuery.all(checkpoint, DEFAULT_BATCH);
        if (heads.length > 0) {
          const through = heads[heads.length - 1]!.position;
          const wanted = skip ? heads.filter((row) => !(row.app_id && skip(row.app_id))) : heads;
          let rows: EventRow[] = [];
          if (wanted.length === heads.length) rows = this.allQuery.all(checkpoint, through, DEFAULT_BATCH);
          else if (wanted.length > 0) rows = this.allQuery.all(checkpoint, through, DEFAULT_BATCH).filter((row) => !(row.app_id && skip!(row.app_id)));
          await handler(rows.map(toStored), through);
          checkpoint = through;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (closed) wake();
        });
        wake = undefined;
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
    return this.headQuery.get()?.p ?? 0;
  }

  /** In short steps with a turn of the event loop between: a large app's history takes seconds to delete. */
  async deleteApp(appId: string): Promise<void> {
    const step = this.db.prepare('DELETE FROM events WHERE position IN (SELECT position FROM events WHERE app_id = ? LIMIT 2000)');
    while (this.db.open && step.run(appId).changes > 0) await nextTurn();
  }

  async deleteStream(stream: string): Promise<void> {
    this.db.prepare('DELETE FROM events WHERE stream = ?').run(stream);
  }

  async close(): Promise<void> {
    // Appends already accepted are written before the file closes.
    this.closing = true;
    while (this.offThread) await this.offThread.catch(() => undefined);
    await this.worker?.close();
    this.worker = undefined;
    if (this.queue.length > 0 && this.db.open) this.commitHere(this.queue.splice(0));
    this.appended.removeAllListeners();
    if (this.db.open) this.db.close();
  }

  private enqueue(writes: StreamWrite[]): Promise<AppendResult[]> {
    if (!this.db.open) return Promise.reject(new Error('The event store is closed'));
    return new Promise<AppendResult[]>((resolve, reject) => {
      this.queue.push({ writes, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate runs after the I/O callbacks of this turn: concurrent requests share a commit.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    // One commit at a time: the one under way schedules the flush again when it is done.
    if (this.offThread || this.closing) return;
    if (!this.db.open) {
      for (const pending of this.queue.splice(0)) pending.reject(new Error('The event store is closed'));
      return;
    }
    let events = 0;
    let take = 0;
    while (take < this.queue.length && (take === 0 || events < GROUP_MAX_EVENTS)) {
      events += this.queue[take]!.writes.reduce((n, w) => n + w.events.length, 0);
      take += 1;
    }
    const group = this.queue.splice(0, take);
    if (this.file === ':memory:') {
      if (this.queue.length > 0) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
      this.commitHere(group);
      return;
    }
    // The worker commits (and waits for the fsync) while this thread serves requests; appends that
    // arrive meanwhile form the next group, sent once this one is done.
    if (!this.worker?.alive) this.worker = new SqliteAppendWorker(this.file);
    const committed = this.worker.commitGroup(group.map((pending) => pending.writes)).then(
      (outcomes) => this.settle(group, outcomes),
      (error: unknown) => {
        for (const pending of group) pending.reject(error);
      },
    );
    this.offThread = committed;
    void committed.finally(() => {
      this.offThread = undefined;
      if (this.queue.length > 0 && !this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** A group committed on this connection: an in-memory store (tests), and what is left at close. */
  private commitHere(group: PendingAppend[]): void {
    const outcomes: GroupOutcome[] = [];
    try {
      this.db.transaction(() => {
        for (const pending of group) {
          try {
            // A nested transaction is a savepoint: this append is all or nothing on its own.
            outcomes.push({ results: this.db.transaction(() => pending.writes.map((w) => this.write(w.stream, w.events, w.expectedVersion)))() });
          } catch (error) {
            outcomes.push({ error: error as Error });
          }
        }
      })();
    } catch (error) {
      for (const pending of group) pending.reject(error);
      return;
    }
    this.settle(group, outcomes);
  }

  private settle(group: readonly PendingAppend[], outcomes: readonly GroupOutcome[]): void {
    let last = 0;
    group.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) {
        pending.reject(outcome.error);
      } else {
        last = Math.max(last, outcome.results[outcome.results.length - 1]!.position);
        pending.resolve(outcome.results);
      }
    });
    if (last > 0) this.appended.emit('appended', last);
  }

  /** Runs inside a transaction: better-sqlite3 is synchronous, so check and insert cannot interleave. */
  private write(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): AppendResult {
    const outcome = writeStreamRows(this.appendStatements, stream, events, expectedVersion);
    if ('conflict' in outcome) throw new WrongExpectedVersionError(outcome.conflict.stream, outcome.conflict.expected, outcome.conflict.actual);
    return outcome;
  }

  private currentVersion(stream: string): number {
    return this.appendStatements.versionOf.get(stream)?.v ?? -1;
  }

  /** Keyset paging: memory stays bounded by one batch however long the history is. */
  private async *paged(range: ReadRange, fetch: (after: number, until: number, limit: number) => EventRow[]): AsyncIterable<StoredEvent> {
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

/**
 * Event files written before app events carried their number get one, once: the number of each
 * app event within its app, in the order of positions.
 */
function numberAppEventsOfOlderFiles(db: SqliteDatabase): void {
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')").all();
  if (columns.some((c) => c.name === 'app_number')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE events ADD COLUMN app_number INTEGER');
    db.exec(`
      WITH numbered AS (
        SELECT position, ROW_NUMBER() OVER (PARTITION BY app_id ORDER BY position) AS n FROM events WHERE app_id IS NOT NULL
      )
      UPDATE events SET app_number = numbered.n FROM numbered WHERE numbered.position = events.position
    `);
  })();
}

/**
 * The payload is parsed on first use: followers pass over many events they do not apply (those of
 * an app a restore is writing), and parsing is most of what reading an event costs.
 */
function toStored(row: EventRow): StoredEvent {
  let data: Record<string, unknown> | undefined;
  return {
    stream: row.stream,
    streamVersion: row.stream_version,
    position: row.position,
    type: row.type,
    get data(): Record<string, unknown> {
      return (data ??= JSON.parse(row.data) as Record<string, unknown>);
    },
    set data(value: Record<string, unknown>) {
      data = value;
    },
    metadata: JSON.parse(row.metadata) as StoredEvent['metadata'],
  };
}
