import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { z } from 'zod';
import type { ArchivedEvent } from '../backup-handler.port.js';
import { classifyEntry, EVENT_FILE_MAX_BYTES, eventFileName, FORMAT_NAME, FORMAT_VERSION, MANIFEST_ENTRY, type Manifest } from './archive-format.js';

/** An archive that cannot be restored; the message tells a person what is wrong with it. */
export class InvalidArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArchiveError';
  }
}

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 5_000_000;
const MAX_EVENT_LINE_BYTES = 16 * 1024 * 1024;
/** One event may be large, so a file may pass EVENT_FILE_MAX_BYTES by up to one event line. */
const MAX_EVENT_FILE_BYTES = EVENT_FILE_MAX_BYTES + MAX_EVENT_LINE_BYTES;

const ManifestSchema = z.object({
  format: z.literal(FORMAT_NAME),
  formatVersion: z.number().int(),
  app: z.object({ id: z.string().min(1), name: z.string().min(1) }),
  created: z.string(),
  source: z.object({ installationId: z.string(), eventStore: z.string(), position: z.number() }),
  counts: z.object({ events: z.number().int().min(0), eventFiles: z.number().int().min(0), assets: z.number().int().min(0), users: z.number().int().min(0) }),
  missing: z.array(z.object({ name: z.string(), reason: z.string() })),
  warnings: z.array(z.string()),
  entries: z.array(z.object({ name: z.string(), size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

const EventLine = z.object({
  number: z.number().int().min(1),
  stream: z.string().min(1),
  streamVersion: z.number().int().min(0),
  type: z.string().min(1),
  timestamp: z.string().min(1),
  actor: z.string().min(1),
  schemaVersion: z.number().int().min(1),
  data: z.record(z.string(), z.unknown()),
});

/**
 * Reads an archive from a file on disk with yauzl, refusing anything hostile before it matters:
 * unknown entry names (zip-slip), entries whose size disagrees with the manifest (zip bombs are
 * stopped by yauzl's size validation the moment they inflate past the declared size), bad
 * checksums, truncated files and gaps in the event numbers.
 */
export class ArchiveReader {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Map<string, yauzl.Entry>,
    readonly manifest: Manifest,
  ) {}

  static async open(file: string, limits: { maxExpandedBytes: number }): Promise<ArchiveReader> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true });
    } catch (error) {
      throw new InvalidArchiveError(`The file is not a readable zip archive (${(error as Error).message}); it may be truncated or not a backup at all`);
    }
    try {
      const entries = await readDirectory(zip);
      const manifestEntry = entries.get(MANIFEST_ENTRY);
      if (!manifestEntry) throw new InvalidArchiveError('The archive has no manifest.json; it is not an AppVault backup');
      if (manifestEntry.uncompressedSize > MAX_MANIFEST_BYTES) throw new InvalidArchiveError('manifest.json is implausibly large');
      const text = await readBoundedText(await zip.openReadStreamPromise(manifestEntry), MAX_MANIFEST_BYTES);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new InvalidArchiveError('manifest.json is not valid JSON');
      }
      const format = (json as { format?: unknown; formatVersion?: unknown } | null) ?? {};
      if (format.format !== FORMAT_NAME) throw new InvalidArchiveError(`manifest.json names format "${String(format.format)}", expected "${FORMAT_NAME}"`);
      if (typeof format.formatVersion === 'number' && format.formatVersion > FORMAT_VERSION) {
        throw new InvalidArchiveError(`The archive has format version ${format.formatVersion}; this AppVault reads up to version ${FORMAT_VERSION}. Upgrade AppVault to restore it.`);
      }
      const parsed = ManifestSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidArchiveError(`manifest.json is malformed at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`);
      }
      const manifest = parsed.data as Manifest;
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

  async open(name: string): Promise<Readable> {
    const entry = this.entries.get(name);
    if (!entry) throw new InvalidArchiveError(`The archive has no entry ${name}`);
    try {
      return await this.zip.openReadStreamPromise(entry);
    } catch (error) {
      throw new InvalidArchiveError(`Entry ${name} cannot be read: ${(error as Error).message}`);
    }
  }

  /** Streams every listed entry once and compares its SHA-256 with the manifest. */
  async verifyChecksums(onProgress?: (done: number, total: number) => void): Promise<void> {
    const total = this.manifest.entries.length;
    let done = 0;
    for (const listed of this.manifest.entries) {
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of await this.open(listed.name)) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      } catch (error) {
        if (error instanceof InvalidArchiveError) throw error;
        throw new InvalidArchiveError(`Entry ${listed.name} is damaged: ${(error as Error).message}`);
      }
      if (size !== listed.size) throw new InvalidArchiveError(`Entry ${listed.name} has ${size} bytes, the manifest says ${listed.size}`);
      if (hash.digest('hex') !== listed.sha256) throw new InvalidArchiveError(`Entry ${listed.name} does not match its SHA-256 in the manifest; the archive is damaged or was changed`);
      done += 1;
      onProgress?.(done, total);
    }
  }

  /** The events in order, checking that numbers run 1..N without gaps. */
  async *events(): AsyncIterable<ArchivedEvent> {
    let expected = 1;
    for (let index = 1; index <= this.manifest.counts.eventFiles; index++) {
      const name = eventFileName(index);
      const input = await this.open(name);
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const line of lines) {
          if (line === '') continue;
          if (line.length > MAX_EVENT_LINE_BYTES) throw new InvalidArchiveError(`${name} has an event line over ${MAX_EVENT_LINE_BYTES} bytes`);
          let json: unknown;
          try {
            json = JSON.parse(line);
          } catch {
            throw new InvalidArchiveError(`${name} has a line that is not JSON (event ${expected})`);
          }
          const parsed = EventLine.safeParse(json);
          if (!parsed.success) throw new InvalidArchiveError(`${name}: event ${expected} is malformed at ${parsed.error.issues[0]?.path.join('.') ?? '?'}`);
          if (parsed.data.number !== expected) throw new InvalidArchiveError(`${name}: expected event number ${expected}, found ${parsed.data.number}`);
          expected += 1;
          yield parsed.data;
        }
      } finally {
        // Leaving early (a point-in-time restore, an error) must release the zip's file handle.
        lines.close();
        input.destroy();
      }
    }
    if (expected - 1 !== this.manifest.counts.events) {
      throw new InvalidArchiveError(`The archive holds ${expected - 1} events, the manifest says ${this.manifest.counts.events}`);
    }
  }

  close(): void {
    this.zip.close();
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
        reject(new InvalidArchiveError(`The archive contains an entry named "${name.slice(0, 200)}", which is not part of the backup format; refusing it`));
        zip.close();
        return;
      }
      if (entries.has(name)) {
        reject(new InvalidArchiveError(`The archive contains ${name} twice`));
        zip.close();
        return;
      }
      entries.set(name, entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: Error) => reject(new InvalidArchiveError(`The zip directory is damaged: ${error.message}`)));
    zip.readEntry();
  });
}

function checkEntries(entries: Map<string, yauzl.Entry>, manifest: Manifest, maxExpandedBytes: number): void {
  const listed = new Map(manifest.entries.map((e) => [e.name, e]));
  let expanded = 0;
  for (const [name, entry] of entries) {
    if (name === MANIFEST_ENTRY) continue;
    const declared = listed.get(name);
    if (!declared) throw new InvalidArchiveError(`Entry ${name} is not listed in the manifest`);
    if (entry.uncompressedSize !== declared.size) {
      throw new InvalidArchiveError(`Entry ${name} declares ${entry.uncompressedSize} bytes, the manifest says ${declared.size}`);
    }
    expanded += entry.uncompressedSize;
  }
  for (const name of listed.keys()) {
    if (!entries.has(name)) throw new InvalidArchiveError(`The manifest lists ${name}, but the archive does not contain it`);
  }
  if (expanded > maxExpandedBytes) {
    throw new InvalidArchiveError(`The archive would expand to ${expanded} bytes, more than the ${maxExpandedBytes} allowed (MAX_RESTORE_EXPANDED_BYTES)`);
  }
  for (let index = 1; index <= manifest.counts.eventFiles; index++) {
    const entry = entries.get(eventFileName(index));
    if (!entry) throw new InvalidArchiveError(`The archive lacks ${eventFileName(index)}`);
    // Writers keep event files near EVENT_FILE_MAX_BYTES; a far larger one is refused before it is read.
    if (entry.uncompressedSize > MAX_EVENT_FILE_BYTES) {
      throw new InvalidArchiveError(`${eventFileName(index)} declares ${entry.uncompressedSize} bytes, more than an event file may hold (${MAX_EVENT_FILE_BYTES})`);
    }
  }
}

/** Reads a small entry (manifest, users.json) as text, stopping as soon as it passes `maxBytes`. */
export async function readBoundedText(stream: Readable, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new InvalidArchiveError(`An archive entry is larger than the ${maxBytes} bytes allowed for it`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
