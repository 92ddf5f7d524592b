import { createHash } from 'node:crypto';
import { createReadStream, read } from 'node:fs';
import { type FileHandle, open as fsOpen } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import yauzl from 'yauzl';
import { z } from 'zod';
import { parseBoundedJson } from '../platform/json/bounded-json.js';
import { quoted } from '../platform/text/control-characters.js';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import { type ArchivedEvent, classifyEntry, EVENT_FILE_MAX_BYTES, eventFileName, FORMAT_NAME, FORMAT_VERSION, MANIFEST_ENTRY, type Manifest, SELECTION_ENTRY, USERS_ENTRY } from './archive-format.js';
import { type BackupSelection, sameSelection, StoredSelection } from './archive-selection.js';

/**
 * Reads the zip through positional reads on one file handle, each entry its own stream. yauzl's
 * built-in file reader queues the reads of all entries on one queue and crashes the process
 * (a TypeError thrown from an fs callback) when an entry stream is destroyed while its read still
 * waits in that queue: an early stop (a point-in-time restore) with file restores running beside
 * it. Node's own file streams may be destroyed at any time; yauzl closes the handle once every
 * stream it handed out has ended or been destroyed.
 */
/** Reads up to SMALL_READ bytes are served from a window of READ_WINDOW bytes (FileRangeReader.read). */
const SMALL_READ = 4096;
const READ_WINDOW = 64 * 1024;

const SHARED_FD = { read, close: (_fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => callback(null) };

class FileRangeReader extends yauzl.RandomAccessReader {
  /** The last window read for small reads; see read(). */
  private window: { start: number; bytes: Buffer } | undefined;

  constructor(private readonly handle: FileHandle) {
    super();
  }

  /**
   * yauzl reads the zip's directory (two small reads an entry) and each entry's local header with
   * `read`, which by default builds a file stream and a writable for every call: tens of thousands
   * of streams for an archive of 10k entries, seconds of work before a restore starts. Small reads
   * are served from a window of READ_WINDOW bytes read once with one positional read (the directory
   * is read front to back, so one read serves hundreds of entries); larger ones are read directly.
   * (A FileHandle closes only once its pending reads are done, so a read never meets a reused descriptor.)
   */
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null) => void): void {
    const done = callback as (error: Error | null, bytesRead?: number) => void;
    const cached = this.window;
    if (cached && position >= cached.start && position + length <= cached.start + cached.bytes.length) {
      cached.bytes.copy(buffer, offset, position - cached.start, position - cached.start + length);
      queueMicrotask(() => done(null, length));
      return;
    }
    const small = length <= SMALL_READ;
    const target = small ? Buffer.allocUnsafe(READ_WINDOW) : buffer;
    this.handle.read(target, small ? 0 : offset, small ? READ_WINDOW : length, position).then(
      ({ bytesRead }) => {
        if (small) {
          this.window = { start: position, bytes: target.subarray(0, bytesRead) };
          target.copy(buffer, offset, 0, Math.min(length, bytesRead));
        }
        done(null, Math.min(length, bytesRead));
      },
      (error: unknown) => {
        done(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // A file stream closes its descriptor when destroyed, autoClose or not; the handle is shared,
    // so this one's `close` does nothing and the handle is closed once, in close() below.
    return createReadStream('', { fd: this.handle.fd, start, end: end - 1, autoClose: false, highWaterMark: 64 * 1024, fs: SHARED_FD });
  }

  override close(callback: (error: Error | null) => void): void {
    this.handle.close().then(
      () => callback(null),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/** An archive that cannot be restored; the message tells a person what is wrong with it. */
export class InvalidArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArchiveError';
  }
}

const MAX_ENTRIES = 5_000_000;
const MAX_EVENT_LINE_BYTES = 16 * 1024 * 1024;
/** One event may be large, so a file may pass EVENT_FILE_MAX_BYTES by up to one event line. */
const MAX_EVENT_FILE_BYTES = EVENT_FILE_MAX_BYTES + MAX_EVENT_LINE_BYTES;
/** Entries the manifest may list as missing, and warnings it may carry (the writer keeps 1,000). */
const MAX_MISSING = 1_000_000;
const MAX_WARNINGS = 1000;
/**
 * A manifest lists every other entry (name, size, SHA-256: about 150 bytes each) plus what is
 * missing and some warnings. Its size is capped by what the zip's own directory allows for, so a
 * huge manifest cannot take memory and time out of proportion with the archive it describes.
 */
const manifestCap = (entryCount: number) => Math.min(64 * 1024 * 1024, 1024 * 1024 + entryCount * 1024 + 8 * 1024 * 1024);
const MAX_USERS_JSON_BYTES = 64 * 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;
/**
 * Every string of an archive that a restore may log, show or store (names, types, streams, ids,
 * reasons) is plain text on one line: an archive cannot carry escape sequences or line breaks
 * into a terminal, a log or the admin page. Users' names are checked where users.json is read,
 * event data by the event catalog.
 */
const text = (max: number) => z.string().max(max).check(singleLine());
const ManifestSchema = z.strictObject({
  format: z.literal(FORMAT_NAME),
  formatVersion: z.number().int().min(1).max(FORMAT_VERSION),
  app: z.strictObject({ id: text(100).min(1), name: text(100).min(1) }),
  created: text(64),
  source: z.strictObject({ installationId: text(100), eventStore: text(40), position: z.number().min(0) }),
  backupId: text(100).min(1).optional(),
  base: z
    .strictObject({ backupId: text(100).min(1), sha256: z.string().regex(SHA256_HEX), position: z.number().min(0), events: z.number().int().min(1) })
    .optional(),
  // An incremental archive may hold no event (nothing happened since its base); a full one holds at least AppCreated.
  counts: z.strictObject({
    events: z.number().int().min(0),
    eventFiles: z.number().int().min(0),
    assets: z.number().int().min(0),
    users: z.number().int().min(0),
  }),
  partial: z.literal(true).optional(),
  include: StoredSelection.optional(),
  // The two long lists are checked item by item below, a slice of the event loop at a time.
  missing: z.array(z.unknown()).max(MAX_MISSING),
  warnings: z.array(text(2000)).max(MAX_WARNINGS),
  entries: z.array(z.unknown()).max(MAX_ENTRIES),
});
const MissingSchema = z.strictObject({ name: text(300), reason: text(1000) });
const EntrySchema = z.strictObject({ name: text(300), size: z.number().int().min(0), sha256: z.string().regex(SHA256_HEX) });

async function checkItems(items: unknown[], schema: z.ZodType, where: string): Promise<void> {
  const slicer = new TimeSlicer();
  for (const [index, item] of items.entries()) {
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidArchiveError(`manifest.json is malformed at ${where}.${index}${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? ''}`);
    }
    await slicer.tick();
  }
}

const EventLine = z.strictObject({
  number: z.number().int().min(1),
  stream: text(300).min(1),
  streamVersion: z.number().int().min(0),
  type: text(100).min(1),
  timestamp: z.iso.datetime({ offset: true }),
  actor: text(100).min(1),
  schemaVersion: z.number().int().min(1),
  data: z.record(z.string(), z.unknown()),
});

/** Turns a yauzl failure into something a person can act on. */
function zipProblem(error: unknown, where: string): InvalidArchiveError {
  const detail = error instanceof Error ? error.message : String(error);
  return new InvalidArchiveError(`${where}: the zip structure is damaged (${detail}); the file may be truncated, altered or not made by AppVault. Download or copy it again.`);
}

/** An event file of the archive (1-based) and the number of its first event. */
export interface EventCursor {
  file: number;
  first: number;
}

/**
 * What a restore, its rehearsal and the archive checks read: one archive (ArchiveReader), or an
 * incremental chain read as one history (ArchiveChain, archive-chain.ts).
 */
export interface ArchiveContent {
  readonly manifest: Manifest;
  has(name: string): boolean;
  namesOf(kind: 'asset' | 'events'): string[];
  open(name: string): Promise<Readable>;
  scan(onEvent: (event: ArchivedEvent) => void): Promise<void>;
  /** The events in order; from a cursor (a resumed restore: no scan first), from that event file on. */
  events(from?: EventCursor): AsyncIterable<ArchivedEvent>;
  /** Where the events read last came from: the event file being read and its first event's number. */
  readonly cursor: EventCursor;
  verifyChecksums(onProgress?: (done: number, total: number) => void): Promise<void>;
  close(): void;
}

/**
 * Reads an archive from a file on disk with yauzl, refusing anything hostile before it matters:
 * entry names outside the format (zip-slip), a manifest that disagrees with the zip's directory
 * (counts, names, sizes), entries larger than declared (zip bombs stop inflating at the declared
 * size), bad checksums, truncated files, deep JSON, and gaps in the event numbers.
 *
 * `scan` reads what a restore must check before it writes anything (every event file and
 * users.json, checksums included); `events` then streams the events again for the restore itself,
 * and `open` gives one entry whose checksum is verified as it is read.
 */
export class ArchiveReader implements ArchiveContent {
  private scanned = false;
  private closed = false;
  private reading: EventCursor = { file: 1, first: 1 };
  private readonly listed: Map<string, Manifest['entries'][number]>;

  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Map<string, yauzl.Entry>,
    readonly manifest: Manifest,
  ) {
    this.listed = new Map(manifest.entries.map((e) => [e.name, e]));
  }

  static async open(file: string, limits: { maxExpandedBytes: number }): Promise<ArchiveReader> {
    let zip: yauzl.ZipFile;
    try {
      const handle = await fsOpen(file, 'r');
      const reader = new FileRangeReader(handle);
      const { size } = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      zip = await yauzl.fromRandomAccessReaderPromise(reader, size, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true }).catch(async (error: unknown) => {
        await handle.close().catch(() => undefined);
        throw error;
      });
    } catch (error) {
      throw new InvalidArchiveError(`The file is not a readable zip archive (${(error as Error).message}); it may be truncated or not a backup at all`);
    }
    try {
      const entries = await readDirectory(zip);
      const manifestEntry = entries.get(MANIFEST_ENTRY);
      if (!manifestEntry) throw new InvalidArchiveError('The archive has no manifest.json; it is not an AppVault backup');
      const cap = manifestCap(entries.size);
      if (manifestEntry.uncompressedSize > cap) {
        throw new InvalidArchiveError(`manifest.json declares ${manifestEntry.uncompressedSize} bytes, more than a manifest of ${entries.size} entries can need (${cap}); refusing to read it`);
      }
      const text = await readBoundedText(await openEntry(zip, manifestEntry), cap);
      const parsedJson = parseBoundedJson(text);
      if ('problem' in parsedJson) throw new InvalidArchiveError(`manifest.json cannot be read: ${parsedJson.problem}`);
      const json = parsedJson.value;
      const format = (typeof json === 'object' && json !== null ? json : {}) as { format?: unknown; formatVersion?: unknown };
      if (format.format !== FORMAT_NAME) throw new InvalidArchiveError(`manifest.json names format ${typeof format.format === 'string' ? quoted(format.format, 60) : String(format.format).slice(0, 60)}, expected "${FORMAT_NAME}"`);
      if (typeof format.formatVersion === 'number' && Number.isInteger(format.formatVersion) && format.formatVersion > FORMAT_VERSION) {
        throw new InvalidArchiveError(`The archive has format version ${format.formatVersion}; this AppVault reads up to version ${FORMAT_VERSION}. Upgrade AppVault to restore it.`);
      }
      const parsed = ManifestSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidArchiveError(`manifest.json is malformed at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? ''}`);
      }
      await checkItems(parsed.data.entries, EntrySchema, 'entries');
      await checkItems(parsed.data.missing, MissingSchema, 'missing');
      const manifest = parsed.data as Manifest;
      // Only an incremental archive may hold no event; a full one holds at least AppCreated, in at least one event file.
      for (const count of ['events', 'eventFiles'] as const) {
        if (!manifest.base && manifest.counts[count] === 0) {
          throw new InvalidArchiveError(`manifest.json is malformed at counts.${count}: it is 0, and an archive that is not incremental holds at least one ${count === 'events' ? 'event (AppCreated)' : 'event file'}`);
        }
      }
      if (manifest.base && manifest.partial) throw new InvalidArchiveError('manifest.json says the archive is both partial and incremental; incremental archives hold the whole app');
      if (Boolean(manifest.partial) !== Boolean(manifest.include)) {
        throw new InvalidArchiveError(manifest.partial ? 'manifest.json says the archive is partial but gives no include (what it holds)' : 'manifest.json gives an include (a selection) but does not say the archive is partial');
      }
      if (Boolean(manifest.include) !== entries.has(SELECTION_ENTRY)) {
        throw new InvalidArchiveError(
          manifest.include ? `manifest.json says the archive is partial, but it has no ${SELECTION_ENTRY}; the archive was changed` : `The archive has ${SELECTION_ENTRY}, so it is partial, but manifest.json claims the whole app; the archive was changed`,
        );
      }
      checkEntries(entries, manifest, limits.maxExpandedBytes);
      return new ArchiveReader(zip, entries, manifest);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The names of the entries of one kind (asset file versions, say). */
  namesOf(kind: 'asset' | 'events'): string[] {
    return [...this.entries.keys()].filter((name) => classifyEntry(name)?.kind === kind);
  }

  /** One entry; its bytes are checked against the manifest as they are read (the stream errors on a mismatch). */
  async open(name: string): Promise<Readable> {
    const entry = this.entries.get(name);
    const listed = this.listed.get(name);
    if (!entry || !listed) throw new InvalidArchiveError(`The archive has no entry ${name}`);
    const source = await openEntry(this.zip, entry);
    const check = new ChecksumCheck(name, listed.size, listed.sha256);
    source.once('error', (error) => check.destroy(zipProblem(error, name)));
    return source.pipe(check);
  }

  /**
   * Reads every event file and users.json once, before anything is written: checksums, JSON,
   * the shape of each event line, numbers 1..N without a gap, and the counts the manifest gives.
   * `onEvent` sees each event (a restore collects the entries events name).
   */
  async scan(onEvent: (event: ArchivedEvent) => void): Promise<void> {
    for await (const event of this.readEvents(true)) onEvent(event);
    if (this.entries.has(USERS_ENTRY)) {
      const text = await readBoundedText(await this.open(USERS_ENTRY), MAX_USERS_JSON_BYTES);
      const parsed = parseBoundedJson(text, 4);
      if ('problem' in parsed || !Array.isArray(parsed.value)) throw new InvalidArchiveError(`users.json cannot be read: ${'problem' in parsed ? parsed.problem : 'it is not a list'}`);
      if (parsed.value.length !== this.manifest.counts.users) {
        throw new InvalidArchiveError(`users.json lists ${parsed.value.length} users, the manifest counts ${this.manifest.counts.users}`);
      }
    } else if (this.manifest.counts.users > 0) {
      throw new InvalidArchiveError(`The manifest counts ${this.manifest.counts.users} users, but the archive has no users.json`);
    }
    if (this.manifest.include) await this.checkSelection(this.manifest.include);
    this.scanned = true;
  }

  /** selection.json (checksummed like every entry) must say what the manifest's `include` says. */
  private async checkSelection(include: BackupSelection): Promise<void> {
    const parsed = parseBoundedJson(await readBoundedText(await this.open(SELECTION_ENTRY), 1024 * 1024), 4);
    const stored = 'problem' in parsed ? undefined : StoredSelection.safeParse(parsed.value);
    if (!stored?.success) throw new InvalidArchiveError(`${SELECTION_ENTRY} cannot be read: ${'problem' in parsed ? parsed.problem : (stored?.error.issues[0]?.message ?? 'not a selection')}`);
    if (!sameSelection(stored.data, include)) throw new InvalidArchiveError(`${SELECTION_ENTRY} and manifest.json name different selections; the archive was changed`);
  }

  /**
   * The events in order, for the restore; `scan` must have passed first, or, for a restore that
   * resumes, `from`: where a journal left off in an archive whose SHA-256 is the one scanned then.
   */
  events(from?: EventCursor): AsyncIterable<ArchivedEvent> {
    if (!this.scanned && !from) throw new Error('scan() the archive before reading its events');
    return this.readEvents(false, from);
  }

  /** The event file being read and the number of its first event: where `events(from)` can start again. */
  get cursor(): EventCursor {
    return { ...this.reading };
  }

  /** Streams every listed entry once and compares its SHA-256 with the manifest. */
  async verifyChecksums(onProgress?: (done: number, total: number) => void): Promise<void> {
    const total = this.manifest.entries.length;
    let done = 0;
    for (const listed of this.manifest.entries) {
      // Reading to the end is the check: the stream errors on a mismatch.
      for await (const chunk of await this.open(listed.name)) void chunk;
      done += 1;
      onProgress?.(done, total);
    }
  }

  /** Closes the file once every entry stream handed out has ended; a second close does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zip.close();
  }

  /** The number of this archive's first event: 1, or in an incremental archive one more than its base's chain holds. */
  get firstEvent(): number {
    return (this.manifest.base?.events ?? 0) + 1;
  }

  private async *readEvents(verify: boolean, from?: EventCursor): AsyncIterable<ArchivedEvent> {
    const first = this.firstEvent;
    const start = from ?? { file: 1, first };
    if (from && (!Number.isInteger(from.file) || from.file < 1 || from.file > this.manifest.counts.eventFiles || !Number.isInteger(from.first) || from.first < first)) {
      throw new InvalidArchiveError(`The archive has no event file ${from.file} to resume from`);
    }
    let expected = start.first;
    for (let index = start.file; index <= this.manifest.counts.eventFiles; index++) {
      this.reading = { file: index, first: expected };
      const name = eventFileName(index);
      const entry = this.entries.get(name)!;
      const input = verify ? await this.open(name) : await openEntry(this.zip, entry);
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let inFile = 0;
      try {
        for await (const line of lines) {
          if (line === '') continue;
          if (line.length > MAX_EVENT_LINE_BYTES) throw new InvalidArchiveError(`${name}: event ${expected} is longer than ${MAX_EVENT_LINE_BYTES} bytes`);
          let event: ArchivedEvent;
          if (verify) {
            const parsedJson = parseBoundedJson(line);
            if ('problem' in parsedJson) throw new InvalidArchiveError(`${name}: event ${expected} cannot be read: ${parsedJson.problem}`);
            const parsed = EventLine.safeParse(parsedJson.value);
            if (!parsed.success) {
              const issue = parsed.error.issues[0];
              throw new InvalidArchiveError(`${name}: event ${expected} is malformed at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? ''}`);
            }
            event = parsed.data;
          } else {
            // The scan read these very bytes (their checksum matched) and checked every line.
            event = JSON.parse(line) as ArchivedEvent;
          }
          if (event.number !== expected) throw new InvalidArchiveError(`${name}: expected event number ${expected}, found ${event.number}`);
          expected += 1;
          inFile += 1;
          yield event;
        }
      } catch (error) {
        if (error instanceof InvalidArchiveError) throw error;
        throw zipProblem(error, name);
      } finally {
        // Leaving early (a point-in-time restore, an error) must release the zip's file handle.
        lines.close();
        input.destroy();
      }
      if (inFile === 0) throw new InvalidArchiveError(`${name} holds no events; every event file holds at least one`);
    }
    if (expected - first !== this.manifest.counts.events) {
      throw new InvalidArchiveError(`The archive holds ${expected - first} events, the manifest counts ${this.manifest.counts.events}`);
    }
  }
}

/** Passes bytes through and fails at the end unless their size and SHA-256 are what the manifest says. */
class ChecksumCheck extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;

  constructor(
    private readonly name: string,
    private readonly expectedSize: number,
    private readonly expectedSha256: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.expectedSize) {
      callback(new InvalidArchiveError(`Entry ${this.name} holds more than the ${this.expectedSize} bytes the manifest says`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== this.expectedSize) callback(new InvalidArchiveError(`Entry ${this.name} has ${this.size} bytes, the manifest says ${this.expectedSize}`));
    else if (this.hash.digest('hex') !== this.expectedSha256) callback(new InvalidArchiveError(`Entry ${this.name} does not match its SHA-256 in the manifest; the archive is damaged or was changed`));
    else callback();
  }
}

async function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  try {
    return await zip.openReadStreamPromise(entry);
  } catch (error) {
    throw zipProblem(error, entry.fileName);
  }
}

function readDirectory(zip: yauzl.ZipFile): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    if (zip.entryCount > MAX_ENTRIES) {
      reject(new InvalidArchiveError(`The archive has ${zip.entryCount} entries, more than the ${MAX_ENTRIES} allowed`));
      return;
    }
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = entry.fileName;
      if (!classifyEntry(name)) {
        reject(new InvalidArchiveError(`The archive contains an entry named ${quoted(name, 200)}, which is not part of the backup format; refusing it`));
        zip.close();
        return;
      }
      if (entries.has(name)) {
        reject(new InvalidArchiveError(`The archive contains ${name} twice`));
        zip.close();
        return;
      }
      entries.set(name, slim(entry));
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: Error) => reject(zipProblem(error, 'The zip directory')));
    zip.readEntry();
  });
}

/**
 * What reading an entry needs of yauzl's Entry (its place, sizes, method and flags), in an Entry of
 * its own: the one yauzl hands out also keeps the raw name, extra fields and comment, about 850
 * bytes an entry, and the directory is held for the whole job (60,000 entries at 1M events).
 */
function slim(entry: yauzl.Entry): yauzl.Entry {
  const { fileName, generalPurposeBitFlag, compressionMethod, compressedSize, uncompressedSize, relativeOffsetOfLocalHeader } = entry;
  return Object.assign(new yauzl.Entry(), { fileName, generalPurposeBitFlag, compressionMethod, compressedSize, uncompressedSize, relativeOffsetOfLocalHeader });
}

function checkEntries(entries: Map<string, yauzl.Entry>, manifest: Manifest, maxExpandedBytes: number): void {
  const listed = new Map<string, Manifest['entries'][number]>();
  for (const e of manifest.entries) {
    if (listed.has(e.name)) throw new InvalidArchiveError(`The manifest lists ${e.name} twice`);
    listed.set(e.name, e);
  }
  let expanded = 0;
  let eventFiles = 0;
  let assets = 0;
  for (const [name, entry] of entries) {
    if (name === MANIFEST_ENTRY) continue;
    const declared = listed.get(name);
    if (!declared) throw new InvalidArchiveError(`Entry ${name} is not listed in the manifest`);
    if (entry.uncompressedSize !== declared.size) {
      throw new InvalidArchiveError(`Entry ${name} declares ${entry.uncompressedSize} bytes, the manifest says ${declared.size}`);
    }
    expanded += entry.uncompressedSize;
    const kind = classifyEntry(name)!.kind;
    if (kind === 'events') eventFiles += 1;
    if (kind === 'asset') assets += 1;
  }
  for (const name of listed.keys()) {
    if (!entries.has(name)) throw new InvalidArchiveError(`The manifest lists ${name}, but the archive does not contain it`);
  }
  if (expanded > maxExpandedBytes) {
    throw new InvalidArchiveError(`The archive would expand to ${expanded} bytes, more than the ${maxExpandedBytes} allowed (MAX_RESTORE_EXPANDED_BYTES)`);
  }
  if (eventFiles !== manifest.counts.eventFiles) {
    throw new InvalidArchiveError(`The archive holds ${eventFiles} event files, the manifest counts ${manifest.counts.eventFiles}`);
  }
  if (assets !== manifest.counts.assets) throw new InvalidArchiveError(`The archive holds ${assets} asset files, the manifest counts ${manifest.counts.assets}`);
  for (let index = 1; index <= manifest.counts.eventFiles; index++) {
    const entry = entries.get(eventFileName(index));
    if (!entry) throw new InvalidArchiveError(`The archive lacks ${eventFileName(index)}; event files are numbered from 1 without gaps`);
    // Writers keep event files near EVENT_FILE_MAX_BYTES; a far larger one is refused before it is read.
    if (entry.uncompressedSize > MAX_EVENT_FILE_BYTES) {
      throw new InvalidArchiveError(`${eventFileName(index)} declares ${entry.uncompressedSize} bytes, more than an event file may hold (${MAX_EVENT_FILE_BYTES})`);
    }
  }
  const present = new Set(entries.keys());
  const missing = new Set<string>();
  for (const m of manifest.missing) {
    if (classifyEntry(m.name)?.kind !== 'asset') throw new InvalidArchiveError(`The manifest lists ${quoted(m.name, 200)} as missing, but only asset files can be missing`);
    if (present.has(m.name)) throw new InvalidArchiveError(`The manifest lists ${m.name} as missing, but the archive contains it`);
    if (missing.has(m.name)) throw new InvalidArchiveError(`The manifest lists ${m.name} as missing twice`);
    missing.add(m.name);
  }
}

/** Reads a small entry (manifest, users.json) as text, stopping as soon as it passes `maxBytes`. */
export async function readBoundedText(stream: Readable, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > maxBytes) {
        stream.destroy();
        throw new InvalidArchiveError(`An archive entry is larger than the ${maxBytes} bytes allowed for it`);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof InvalidArchiveError) throw error;
    throw zipProblem(error, 'An archive entry');
  }
  return Buffer.concat(chunks).toString('utf8');
}
