import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { type StreamWrite, WrongExpectedVersionError } from './event-store.port.js';
import { APPEND_SQL, writeStreamRows } from './sqlite-event-rows.js';

/** Writes are handed over in parts this large, so no one message takes long to copy. */
const PART_WRITES = 500;

/**
 * The worker's code, run as a script (`eval`), so the same source serves the built server and the
 * tests that run the TypeScript. It opens its own connection to the event file and writes one
 * append in one transaction with the main thread's own statements and row writer
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

interface Reply {
  id: number;
  position?: number;
  error?: string;
  conflict?: { stream: string; expected: number | 'any'; actual: number };
}

/**
 * Writes one large append (a rollback's thousands of events, which must be all or nothing) in a
 * worker thread with its own connection, so the transaction's hundred milliseconds or so of
 * inserts never hold the main thread. The store pauses its own group commits meanwhile, so the
 * two connections never wait on each other's write lock.
 */
export class SqliteAppendWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (position: number) => void; reject: (error: Error) => void }>();
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
      if (reply.conflict) waiting.reject(new WrongExpectedVersionError(reply.conflict.stream, reply.conflict.expected, reply.conflict.actual));
      else if (reply.error !== undefined) waiting.reject(new Error(`The event store could not append: ${reply.error}`));
      else waiting.resolve(reply.position!);
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
    const done = new Promise<number>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    for (let from = 0; from < writes.length; from += PART_WRITES) {
      this.worker.postMessage({ kind: 'part', id, writes: writes.slice(from, from + PART_WRITES) });
      await nextTurn();
    }
    this.worker.postMessage({ kind: 'commit', id });
    return done;
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
