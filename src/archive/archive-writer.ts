import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import { TimeSlicer } from '../platform/time-slicer.js';
import { MANIFEST_ENTRY, type Manifest, type ManifestEntry } from './archive-format.js';

/** Entries that may wait in the writer at once: enough to keep yazl and zlib busy, few enough to keep memory flat. */
const MAX_QUEUED_ENTRIES = 16;
/** In-memory entries (event files, prefetched files) that may wait at once, in bytes. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/**
 * Files up to this size are read as soon as they are queued rather than when yazl reaches them:
 * yazl writes entries one after another, and opening and reading a small file while the entries
 * before it are written takes those steps off the critical path.
 */
const PREFETCH_MAX_BYTES = 1024 * 1024;

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

/** Counts and hashes bytes on their way into the zip. */
class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Writes an archive as a stream with yazl. Entries are queued, a few at a time: yazl opens each
 * one's source only when it gets to it (so no file is held open while it waits) and deflates it
 * on zlib's threads while the next entries are prepared. The manifest, which needs every other
 * entry's checksum, is written last.
 */
export class ArchiveWriter {
  private readonly zip = new yazl.ZipFile();
  private readonly entries: (ManifestEntry | undefined)[] = [];
  private failure?: Error;
  private readonly open = new Set<{ hasher: HashingStream; source: Readable }>();
  private queued = 0;
  private queuedBytes = 0;
  private wake?: () => void;
  readonly output: Readable;

  constructor(private readonly mtime = new Date()) {
    this.output = this.zip.outputStream as unknown as Readable;
    // The consumer (the archive store) learns of a failure through its own pipeline; until it has
    // attached one, an abort must not surface as an unhandled 'error' that ends the process.
    this.output.on('error', () => undefined);
    // yazl reports a source that could not be opened here; unheard, it would take the process down.
    (this.zip as unknown as NodeJS.EventEmitter).on('error', (error: Error) => this.abort(error));
  }

  /**
   * Queues one entry and resolves once it is queued (waiting while the queue is full); `source`
   * is called when yazl reaches the entry. Failures show at the latest in `finish`.
   */
  async addEntry(name: string, source: () => Promise<Readable>, options: { compress: boolean; bytes?: number; size?: number }): Promise<void> {
    if (options.size !== undefined && options.size <= PREFETCH_MAX_BYTES && options.bytes === undefined) {
      const prefetched = readAll(source);
      // A read that fails surfaces when yazl reaches the entry; until then nobody waits for it.
      prefetched.catch(() => undefined);
      return this.addEntry(
        name,
        async () => {
          const source = new PassThrough();
          source.end(await prefetched);
          return source;
        },
        { compress: options.compress, bytes: options.size },
      );
    }
    const bytes = options.bytes ?? 0;
    while (!this.failure && (this.queued >= MAX_QUEUED_ENTRIES || (bytes > 0 && this.queuedBytes > 0 && this.queuedBytes + bytes > MAX_QUEUED_BYTES))) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.failure) throw this.failure;
    this.queued += 1;
    this.queuedBytes += bytes;
    const index = this.entries.push(undefined) - 1;
    // yazl keeps every entry's pump function (and so this closure) until the zip ends; dropping
    // the source once it is opened keeps event files from piling up in memory over a long backup.
    let pendingSource: (() => Promise<Readable>) | undefined = source;
    const done = () => {
      this.queued -= 1;
      this.queuedBytes -= bytes;
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    this.zip.addReadStreamLazy(name, { compress: options.compress, mtime: this.mtime }, (callback) => {
      if (this.failure) {
        done();
        callback(this.failure, undefined as unknown as Readable);
        return;
      }
      const open = pendingSource!;
      pendingSource = undefined;
      open().then(
        (readable) => {
          const hasher = new HashingStream();
          const current = { hasher, source: readable };
          this.open.add(current);
          readable.once('error', (error) => hasher.destroy(error));
          readable.pipe(hasher);
          finished(hasher).then(
            () => {
              this.open.delete(current);
              this.entries[index] = { name, size: hasher.size, sha256: hasher.digest() };
              done();
            },
            (error: unknown) => {
              this.open.delete(current);
              done();
              this.abort(error instanceof Error ? error : new Error(String(error)));
            },
          );
          callback(null, hasher as unknown as Readable);
        },
        (error: unknown) => {
          done();
          this.abort(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  addBuffer(name: string, bytes: Buffer, options: { compress: boolean }): Promise<void> {
    let held: Buffer | undefined = bytes;
    return this.addEntry(
      name,
      async () => {
        const source = new PassThrough();
        source.end(held);
        held = undefined;
        return source;
      },
      { ...options, bytes: bytes.length },
    );
  }

  /** Waits for every queued entry, writes the manifest (with every entry's checksum) and closes the zip; resolves with the manifest written. */
  async finish(manifest: Omit<Manifest, 'entries'>): Promise<Manifest> {
    while (!this.failure && this.queued > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
    const source = Readable.from(manifestText(manifest, this.entries));
    const hasher = new HashingStream();
    const current = { hasher, source };
    this.open.add(current);
    source.pipe(hasher);
    this.zip.addReadStream(hasher, MANIFEST_ENTRY, { compress: true, mtime: this.mtime });
    this.zip.end();
    await finished(hasher);
    this.open.delete(current);
    if (this.failure) throw this.failure;
    return { ...manifest, entries: this.entries.filter((entry) => entry !== undefined) };
  }

  /** Stops writing: the consumer of `output` failed, or the job is being abandoned. */
  abort(error: Error): void {
    this.failure ??= error;
    // The sources too: they may hold file handles (assets being read).
    for (const { source, hasher } of this.open) {
      source.destroy();
      hasher.destroy(error);
    }
    this.open.clear();
    this.output.destroy(error);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
