import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { TimeSlicer } from '../platform/time-slicer.js';
import { MANIFEST_ENTRY, type Manifest, type ManifestEntry } from './archive-format.js';

/** Entries that may wait in the writer at once: enough to keep the writer thread busy, few enough to keep memory flat. */
const MAX_QUEUED_ENTRIES = 16;
/** In-memory entries (event files, prefetched files) that may wait at once, in bytes. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/**
 * Files up to this size are read as soon as they are queued rather than when the writer reaches
 * them: entries are written one after another, and opening and reading a small file while the
 * entries before it are written takes those steps off the critical path.
 */
const PREFETCH_MAX_BYTES = 1024 * 1024;
/** Entry bytes handed to the writer thread that it has not taken in yet: the queue between the threads. */
const MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** The writer thread reports what it has taken in once this much has gathered (and at each entry's end). */
const REPORT_BYTES = 512 * 1024;
/** The zip's bytes come back in messages of about this size: a message per deflate chunk cost the main thread more than the bytes. */
const OUTPUT_BATCH_BYTES = 256 * 1024;

/**
 * The manifest as JSON text, written piece by piece: a large app's manifest lists tens of
 * thousands of entries, and serialising it in one go would hold the event loop for long.
 */
export async function* manifestText(manifest: Omit<Manifest, 'entries'>, entries: readonly (ManifestEntry | undefined)[]): AsyncGenerator<Buffer> {
  const head = JSON.stringify({ ...manifest, entries: [] }, null, 2);
  yield Buffer.from(`${head.slice(0, head.lastIndexOf('[]'))}[`);
  const slicer = new TimeSlicer();
  let first = true;
  let lines: string[] = [];
  for (const entry of entries) {
    if (!entry) continue;
    lines.push(`${first ? '' : ','}\n    ${JSON.stringify(entry)}`);
    first = false;
    if (lines.length >= 1000) {
      yield Buffer.from(lines.join(''));
      lines = [];
      await slicer.tick();
    }
  }
  yield Buffer.from(`${lines.join('')}${first ? '' : '\n  '}]\n}`);
}

async function readAll(open: () => Promise<Readable>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await open()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The writer thread's code, run as a script (`eval`) so that the same source serves the built
 * server and the tests that run the TypeScript (as the event store's append worker does). It
 * owns the yazl zip: each entry's bytes arrive as messages, are counted and hashed (SHA-256, for
 * the manifest), CRC'd and deflated by yazl (zlib's own threads), and the zip's bytes go back as
 * messages. It reports each chunk it has taken in, so that the main thread sends no more than
 * MAX_IN_FLIGHT_BYTES ahead, and it stops reading the zip while the main thread's consumer is
 * behind. Any failure in here is reported as an `error` message; an uncaught one ends the thread,
 * which the main thread sees as well.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { Transform } = require('node:stream');
const yazl = require(workerData.yazl);
const zip = new yazl.ZipFile();
const mtime = new Date(workerData.mtime);
const entries = new Map();
let failed = false;
const fail = (error) => {
  if (failed) return;
  failed = true;
  parentPort.postMessage({ op: 'error', message: String((error && error.message) || error) });
};
zip.on('error', fail);
const transferable = (chunk) => (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : new Uint8Array(chunk));
class Entry extends Transform {
  constructor(id) {
    super();
    this.id = id;
    this.hash = createHash('sha256');
    this.size = 0;
  }
  _transform(chunk, _encoding, callback) {
    this.hash.update(chunk);
    this.size += chunk.length;
    taken(chunk.length);
    callback(null, chunk);
  }
  _flush(callback) {
    taken(0, true);
    parentPort.postMessage({ op: 'entry-done', id: this.id, size: this.size, sha256: this.hash.digest('hex') });
    callback();
  }
}
// Few, large messages: bytes taken in are reported, and the zip's bytes sent, in batches.
let unreported = 0;
const taken = (bytes, now) => {
  unreported += bytes;
  if (unreported === 0 || (!now && unreported < ${REPORT_BYTES})) return;
  parentPort.postMessage({ op: 'consumed', bytes: unreported });
  unreported = 0;
};
const output = zip.outputStream;
let pending = [];
let pendingBytes = 0;
const send = () => {
  if (pendingBytes === 0) return;
  const data = transferable(pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes));
  pending = [];
  pendingBytes = 0;
  parentPort.postMessage({ op: 'out', data }, [data.buffer]);
};
output.on('data', (chunk) => {
  pending.push(chunk);
  pendingBytes += chunk.length;
  if (pendingBytes >= ${OUTPUT_BATCH_BYTES}) send();
});
output.on('end', () => {
  send();
  parentPort.postMessage({ op: 'done' });
});
output.on('error', fail);
parentPort.on('message', (message) => {
  switch (message.op) {
    case 'entry': {
      const entry = new Entry(message.id);
      entry.on('error', fail);
      entries.set(message.id, entry);
      zip.addReadStreamLazy(message.name, { compress: message.compress, mtime }, (callback) => callback(null, entry));
      return;
    }
    case 'chunk':
      entries.get(message.id).write(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
      return;
    case 'end':
      entries.get(message.id).end();
      entries.delete(message.id);
      return;
    case 'finish':
      zip.end();
      return;
    case 'pause':
      output.pause();
      return;
    case 'resume':
      output.resume();
      return;
    default:
      throw new Error('unknown message ' + JSON.stringify(message.op));
  }
});
`;

/** What the writer thread tells the main thread. */
type ThreadMessage =
  | { op: 'consumed'; bytes: number }
  | { op: 'entry-done'; id: number; size: number; sha256: string }
  | { op: 'out'; data: Uint8Array }
  | { op: 'done' }
  | { op: 'error'; message: string };

/** An entry waiting for its turn to be sent to the writer thread. */
interface QueuedEntry {
  index: number;
  name: string;
  compress: boolean;
  bytes: number;
  /** The source's chunks are the writer's to give away (addBuffer's buffer). */
  owned: boolean;
  open: () => Promise<Readable>;
}

/** The writer threads of archives being written now; tests reach them to prove that a thread that dies fails only its job. */
const liveThreads = new Set<Worker>();
export function archiveWriterThreads(): ReadonlySet<Worker> {
  return liveThreads;
}

/**
 * A chunk as bytes the thread can take over: transferred (not copied) when it is a buffer of its
 * own that the writer was given (addBuffer), copied otherwise, so that no caller's buffer, nor a
 * pool shared with others, is ever taken away.
 */
function transferable(chunk: Buffer | Uint8Array | string, owned: boolean): Uint8Array {
  if (typeof chunk === 'string') return new Uint8Array(Buffer.from(chunk, 'utf8'));
  const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && !(chunk.buffer instanceof SharedArrayBuffer);
  return owned && whole ? chunk : new Uint8Array(chunk);
}

/**
 * Writes an archive as a stream. The zip itself (yazl), the SHA-256 and CRC-32 of every entry and
 * deflating run on a writer thread of their own, so that a backup uses both cores: this thread
 * reads the app's events and files and hands each entry's bytes over, in order, a bounded amount
 * ahead (MAX_IN_FLIGHT_BYTES), and gets the zip's bytes back as `output`, which stops the thread
 * while its consumer is behind. Entries are queued a few at a time: each one's source is opened
 * only when it is its turn (so no file is held open while it waits). The manifest, which needs
 * every other entry's checksum, is written last. Already-compressed files are stored as they are
 * (the caller says so with `compress: false`).
 */
export class ArchiveWriter {
  private readonly thread: Worker;
  private readonly entries: (ManifestEntry | undefined)[] = [];
  /** Entry names by index until the thread has written them (then they are in `entries`). */
  private readonly names: (string | undefined)[] = [];
  private readonly queue: QueuedEntry[] = [];
  private readonly entryBytes = new Map<number, number>();
  private failure?: Error;
  /** Entries added and not yet written by the thread, and the in-memory bytes among them. */
  private queued = 0;
  private queuedBytes = 0;
  private inFlight = 0;
  private pumping = false;
  private source?: Readable;
  private paused = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  private readonly ended: Promise<void>;
  readonly output: Readable;

  constructor(mtime = new Date()) {
    const yazlPath = createRequire(import.meta.url).resolve('yazl');
    this.thread = new Worker(WORKER_SOURCE, { eval: true, workerData: { yazl: yazlPath, mtime: mtime.getTime() } });
    liveThreads.add(this.thread);
    this.output = new Readable({
      read: () => {
        if (!this.paused) return;
        this.paused = false;
        this.thread.postMessage({ op: 'resume' });
      },
    });
    // The consumer (the archive store) learns of a failure through its own pipeline; until it has
    // attached one, an abort must not surface as an unhandled 'error' that ends the process.
    this.output.on('error', () => undefined);
    let end!: () => void;
    this.ended = new Promise<void>((resolve) => (end = resolve));
    this.thread.on('message', (message: ThreadMessage) => this.heard(message, end));
    this.thread.on('error', (error) => this.abort(new Error(`The archive writer thread failed: ${error.message}; the archive was not written`)));
    this.thread.on('exit', (code) => {
      liveThreads.delete(this.thread);
      if (!this.closed) this.abort(new Error(`The archive writer thread stopped unexpectedly (exit code ${code}); the archive was not written`));
      this.wakeAll();
    });
  }

  private heard(message: ThreadMessage, end: () => void): void {
    switch (message.op) {
      case 'consumed':
        this.inFlight -= message.bytes;
        this.wakeAll();
        return;
      case 'entry-done': {
        const bytes = this.entryBytes.get(message.id) ?? 0;
        this.entryBytes.delete(message.id);
        this.entries[message.id] = { name: this.names[message.id]!, size: message.size, sha256: message.sha256 };
        this.names[message.id] = undefined;
        this.queued -= 1;
        this.queuedBytes -= bytes;
        this.wakeAll();
        return;
      }
      case 'out':
        if (this.failure) return;
        if (!this.output.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)) && !this.paused) {
          this.paused = true;
          this.thread.postMessage({ op: 'pause' });
        }
        return;
      case 'done':
        this.closed = true;
        liveThreads.delete(this.thread);
        this.output.push(null);
        void this.thread.terminate();
        end();
        this.wakeAll();
        return;
      case 'error':
        this.abort(new Error(`The archive could not be written: ${message.message}`));
    }
  }

  private wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private waitForChange(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.add(resolve));
  }

  /**
   * Queues one entry and resolves once it is queued (waiting while the queue is full); `source`
   * is called when it is the entry's turn. Failures show at the latest in `finish`.
   */
  async addEntry(name: string, source: () => Promise<Readable>, options: { compress: boolean; bytes?: number; size?: number; owned?: boolean }): Promise<void> {
    if (options.size !== undefined && options.size <= PREFETCH_MAX_BYTES && options.bytes === undefined) {
      const prefetched = readAll(source);
      // A read that fails surfaces when the entry's turn comes; until then nobody waits for it.
      prefetched.catch(() => undefined);
      return this.addEntry(name, async () => Readable.from([await prefetched]), { compress: options.compress, bytes: options.size, owned: true });
    }
    const bytes = options.bytes ?? 0;
    while (!this.failure && (this.queued >= MAX_QUEUED_ENTRIES || (bytes > 0 && this.queuedBytes > 0 && this.queuedBytes + bytes > MAX_QUEUED_BYTES))) {
      await this.waitForChange();
    }
    if (this.failure) throw this.failure;
    this.queued += 1;
    this.queuedBytes += bytes;
    const index = this.entries.push(undefined) - 1;
    this.names[index] = name;
    this.entryBytes.set(index, bytes);
    this.queue.push({ index, name, compress: options.compress, bytes, owned: options.owned === true, open: source });
    void this.pump();
  }

  /** Queues an entry of bytes in memory; the buffer is handed over to the writer thread and must not be used after. */
  addBuffer(name: string, bytes: Buffer, options: { compress: boolean }): Promise<void> {
    let held: Buffer | undefined = bytes;
    return this.addEntry(
      name,
      async () => {
        const source = Readable.from([held!]);
        held = undefined;
        return source;
      },
      { ...options, bytes: bytes.length, owned: true },
    );
  }

  /** Sends the queued entries to the thread one after another, in order, never more than MAX_IN_FLIGHT_BYTES ahead of it. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.failure && this.queue.length > 0) {
        const entry = this.queue.shift()!;
        this.thread.postMessage({ op: 'entry', id: entry.index, name: entry.name, compress: entry.compress });
        const source = await entry.open();
        this.source = source;
        for await (const chunk of source as AsyncIterable<Buffer | string>) {
          if (this.failure) break;
          const data = transferable(chunk, entry.owned);
          this.inFlight += data.byteLength;
          this.thread.postMessage({ op: 'chunk', id: entry.index, data }, [data.buffer as ArrayBuffer]);
          while (!this.failure && this.inFlight > MAX_IN_FLIGHT_BYTES) await this.waitForChange();
        }
        this.source = undefined;
        if (!this.failure) this.thread.postMessage({ op: 'end', id: entry.index });
      }
    } catch (error) {
      this.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.pumping = false;
    }
  }

  /** Waits for every queued entry, writes the manifest (with every entry's checksum) and closes the zip; resolves with the manifest written. */
  async finish(manifest: Omit<Manifest, 'entries'>): Promise<Manifest> {
    while (!this.failure && this.queued > 0) await this.waitForChange();
    if (this.failure) throw this.failure;
    // Listed entries only: the manifest's own entry comes after this snapshot.
    const listed = this.entries.filter((entry) => entry !== undefined);
    await this.addEntry(MANIFEST_ENTRY, async () => Readable.from(manifestText(manifest, listed)), { compress: true });
    while (!this.failure && this.queued > 0) await this.waitForChange();
    if (this.failure) throw this.failure;
    this.thread.postMessage({ op: 'finish' });
    await Promise.race([this.ended, this.failed()]);
    if (this.failure) throw this.failure;
    return { ...manifest, entries: listed };
  }

  private async failed(): Promise<void> {
    while (!this.failure && !this.closed) await this.waitForChange();
  }

  /** Stops writing: the consumer of `output` failed, or the job is being abandoned. */
  abort(error: Error): void {
    this.failure ??= error;
    // The source being sent too: it may hold a file handle (an asset being read).
    this.source?.destroy();
    this.source = undefined;
    this.closed = true;
    liveThreads.delete(this.thread);
    void this.thread.terminate();
    this.output.destroy(error);
    this.wakeAll();
  }
}
