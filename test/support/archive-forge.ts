import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import yazl from 'yazl';
import { readZipBuffer } from './zip-inspect.js';

/** An archive taken apart: what a forger may change before it is put back together. */
export interface Forgery {
  manifest: Record<string, unknown> & { counts: Record<string, number>; missing: { name: string; reason: string }[] };
  /** Every event line, parsed, in order. */
  events: Record<string, unknown>[];
  users: Record<string, unknown>[];
  /** Entries other than the manifest, events and users.json, by name (asset file versions). */
  files: Map<string, Buffer>;
}

export interface ForgeOptions {
  /** Applied to the manifest after entries, sizes, checksums and counts were recomputed. */
  manifest?: (manifest: Forgery['manifest']) => void;
  /** Raw entries written as they are, after everything else (even a second manifest.json). */
  raw?: Record<string, Buffer>;
  /** Writes the events file text as given instead of one JSON line per event. */
  eventsText?: string;
  /** Keeps the archive's users.json bytes as they are instead of rewriting them from `users`. */
  rawUsers?: Buffer;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Takes a genuine archive apart, independently of the product's reader. */
export async function takeApart(archive: Buffer): Promise<Forgery> {
  const entries = await readZipBuffer(archive);
  const manifest = JSON.parse(entries.get('manifest.json')!.toString()) as Forgery['manifest'];
  const eventFiles = [...entries.keys()].filter((n) => n.startsWith('events/')).sort();
  const events = eventFiles.flatMap((n) => entries.get(n)!.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  const users = JSON.parse(entries.get('users.json')?.toString() ?? '[]') as Record<string, unknown>[];
  const files = new Map([...entries].filter(([n]) => n.startsWith('assets/')));
  return { manifest, events, users, files };
}

/**
 * Puts an archive back together the way the product's writer would (event files of 1,000, a
 * manifest listing every entry with its size and SHA-256, counts that match), unless `options`
 * says otherwise: that is how each test makes exactly one thing wrong.
 */
export async function putTogether(forgery: Forgery, options: ForgeOptions = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const listed: { name: string; size: number; sha256: string }[] = [];
  const add = (name: string, bytes: Buffer) => {
    zip.addBuffer(bytes, name);
    listed.push({ name, size: bytes.length, sha256: sha(bytes) });
  };
  let eventFiles = 0;
  if (options.eventsText !== undefined) {
    add('events/000001.ndjson', Buffer.from(options.eventsText));
    eventFiles = 1;
  } else {
    for (let i = 0; i < forgery.events.length; i += 1000) {
      eventFiles += 1;
      add(`events/${String(eventFiles).padStart(6, '0')}.ndjson`, Buffer.from(forgery.events.slice(i, i + 1000).map((e) => `${JSON.stringify(e)}\n`).join('')));
    }
  }
  for (const [name, bytes] of forgery.files) add(name, bytes);
  add('users.json', options.rawUsers ?? Buffer.from(JSON.stringify(forgery.users)));
  const manifest = {
    ...forgery.manifest,
    counts: { ...forgery.manifest.counts, events: forgery.events.length, eventFiles, assets: forgery.files.size, users: forgery.users.length },
    entries: listed,
  };
  options.manifest?.(manifest);
  zip.addBuffer(Buffer.from(JSON.stringify(manifest)), 'manifest.json');
  for (const [name, bytes] of Object.entries(options.raw ?? {})) zip.addBuffer(bytes, name);
  zip.end();
  const sink = new PassThrough();
  (zip.outputStream as unknown as NodeJS.ReadableStream).pipe(sink);
  const chunks: Buffer[] = [];
  for await (const chunk of sink) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Corrupts the end-of-central-directory record so it points far past the end of the file. */
export function bogusDirectoryOffset(archive: Buffer): Buffer {
  const copy = Buffer.from(archive);
  const at = copy.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (at < 0) throw new Error('no end of central directory record');
  copy.writeUInt32LE(0xfffffff0, at + 16);
  copy.writeUInt32LE(0x7ffffff0, at + 12);
  return copy;
}
