import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { type AppendResult, type StreamWrite, WrongExpectedVersionError } from './event-store.port.js';
import { APPEND_SQL, writeStreamRows } from './sqlite-event-rows.js';

/** Writes are handed over in parts this large, so no one message takes long to copy. */
const PART_WRITES = 500;

/**
 * The worker's code, run as a script (`eval`), so the same source serves the built server and the
 * tests that run the TypeScript. It opens its own connection to the event file and writes each
 * commit in one transaction with the main thread's own statements and row writer
 * (sqlite-event-rows.ts, whose function text is part of this source).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const SQL = ${JSON.stringify(APPEND_SQL)};
const statements = { insert: db.prepare(SQL.insert), versionOf: db.prepare(SQL.versionOf), lastAppNumber: db.prepare(SQL.lastAppNumber) };
${writeStreamRows.toString()}
const parts = new Map();
parentPort.on('message', (message) => {
  if (message.kind === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  if (message.kind === 'part') {
    if (!parts.has(message.id)) parts.set(message.id, []);
    parts.get(message.id).push(...message.writes);
    return;
  }
  if (message.kind === 'group') {
    // Appends of concurrent requests, one transaction for all, each in a savepoint of its own so a
    // version conflict fails only its own append.
    const outcomes = [];
    try {
      db.transaction(() => {
        for (const writes of message.appends) {
          try {
            outcomes.push({ results: db.transaction(() => writes.map((write) => {
              const outcome = writeStreamRows(statements, write.stream, write.events, write.expectedVersion);
              if (outcome.conflict) {
                const conflict = new Error('conflict');
                conflict.conflict = outcome.conflict;
                throw conflict;
              }
              return outcome;
            }))() });
          } catch (error) {
            outcomes.push(error && error.conflict ? { conflict: error.conflict } : { error: String((error && error.message) || error) });
          }
        }
      })();
      parentPort.postMessage({ id: message.id, outcomes });
    } catch (error) {
      parentPort.postMessage({ id: message.id, error: String((error && error.message) || error) });
    }
    return;
  }
  const writes = parts.get(message.id) || [];
  parts.delete(message.id);
  try {
    let position = 0;
    db.transaction(() => {
      for (const write of writes) {
        const outcome = writeStreamRows(statements, write.stream, write.events, write.expectedVersion);
        if (outcome.conflict) {
          const conflict = new Error('conflict');
          conflict.conflict = outcome.conflict;
          throw conflict;
        }
        position = outcome.position;
      }
    })();
    parentPort.postMessage({ id: message.id, position });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String((error && error.message) || error), conflict: error && error.conflict });
  }
});
`;

/** What became of one append of a group: its results, or why it was refused. */
export type GroupOutcome = { results: AppendResult[] } | { error: Error };

type Conflict = { stream: string; expected: number | 'any'; actual: number };

interface Reply {
  id: number;
  position?: number;
  outcomes?: ({ results: AppendResult[] } | { conflict: Conflict } | { error: string })[];
  error?: string;
  conflict?: Conflict;
}

/**
 * The event store's writer: a worker thread with its own connection that commits the store's
 * group commits (and, handed over in parts, one large append such as a rollback's thousands of
 * events, all or nothing), so neither the inserts nor the fsync of a commit hold the main thread.
 * The store sends one commit at a time; its own connection only reads.
 */
export class SqliteAppendWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  /** False once the thread has stopped: the store then starts a new one for the next append. */
  alive = true;

  constructor(file: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.waiting.get(reply.id);
      if (!waiting) return;
      this.waiting.delete(reply.id);
      if (reply.conflict) waiting.reject(conflictError(reply.conflict));
      else if (reply.error !== undefined) waiting.reject(appendError(reply.error));
      else waiting.resolve(reply);
    });
    this.worker.on('error', (error) => {
      this.alive = false;
      this.failAll(error);
    });
    this.worker.on('exit', (code) => {
      this.alive = false;
      this.failAll(new Error(`The event store's append worker stopped (exit code ${code})`));
    });
  }

  /** Hands the writes over in parts, a turn of the event loop between them, then commits them as one. */
  async append(writes: readonly StreamWrite[]): Promise<number> {
    const id = this.nextId++;
    const done = this.reply(id);
    for (let from = 0; from < writes.length; from += PART_WRITES) {
      this.worker.postMessage({ kind: 'part', id, writes: writes.slice(from, from + PART_WRITES) });
      await nextTurn();
    }
    this.worker.postMessage({ kind: 'commit', id });
    return (await done).position!;
  }

  /**
   * Commits a group of appends (the store's group commit) in one transaction, each append all or
   * nothing on its own; resolves with each one's outcome, in order. The main thread goes on
   * serving requests meanwhile, instead of waiting for the commit's fsync.
   */
  async commitGroup(appends: readonly (readonly StreamWrite[])[]): Promise<GroupOutcome[]> {
    const id = this.nextId++;
    const done = this.reply(id);
    this.worker.postMessage({ kind: 'group', id, appends });
    const { outcomes = [] } = await done;
    return outcomes.map((outcome) => {
      if ('conflict' in outcome) return { error: conflictError(outcome.conflict) };
      if ('error' in outcome) return { error: appendError(outcome.error) };
      return outcome;
    });
  }

  private reply(id: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async close(): Promise<void> {
    this.worker.postMessage({ kind: 'close' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 2000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private failAll(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}

function conflictError(conflict: Conflict): WrongExpectedVersionError {
  return new WrongExpectedVersionError(conflict.stream, conflict.expected, conflict.actual);
}

function appendError(message: string): Error {
  return new Error(`The event store could not append: ${message}`);
}
