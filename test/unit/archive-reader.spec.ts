import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { ArchiveReader, InvalidArchiveError } from '../../src/archive/archive-reader.js';
import { tempDir } from '../support/test-server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Builds an archive by hand (not with the product's writer), so each rule can be broken on purpose. */
async function archive(files: Record<string, Buffer>, manifest: (entries: { name: string; size: number; sha256: string }[]) => unknown): Promise<string> {
  const zip = new yazl.ZipFile();
  const entries = Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.length, sha256: sha(bytes) }));
  for (const [name, bytes] of Object.entries(files)) zip.addBuffer(bytes, name);
  zip.addBuffer(Buffer.from(JSON.stringify(manifest(entries))), 'manifest.json');
  zip.end();
  const file = join(tempDir(), 'a.zip');
  await pipeline(zip.outputStream as unknown as NodeJS.ReadableStream, createWriteStream(file));
  return file;
}

const line = (n: number) => JSON.stringify({ number: n, stream: 'app-a1', streamVersion: n - 1, type: n === 1 ? 'AppCreated' : 'AppUpdated', timestamp: '2026-01-01T00:00:00.000Z', actor: 'u1', schemaVersion: 1, data: {} });
const events = (...numbers: number[]) => Buffer.from(numbers.map((n) => `${line(n)}\n`).join(''));
const manifestFor = (count: number, overrides: Record<string, unknown> = {}) => (entries: unknown[]) => ({
  format: 'appvault-backup',
  formatVersion: 1,
  app: { id: 'a1', name: 'shop' },
  created: '2026-01-01T00:00:00.000Z',
  source: { installationId: 'i', eventStore: 'sqlite', position: 10 },
  counts: { events: count, eventFiles: 1, assets: 0, users: 0 },
  missing: [],
  warnings: [],
  entries,
  ...overrides,
});

/** What a restore does first: every event and checksum once, before anything is written. */
async function collect(reader: ArchiveReader): Promise<number[]> {
  const out: number[] = [];
  await reader.scan((e) => out.push(e.number));
  const again: number[] = [];
  for await (const e of reader.events()) again.push(e.number);
  expect(again).toEqual(out);
  return out;
}

const limits = { maxExpandedBytes: 1024 * 1024 * 1024 };

describe('archive reader', () => {
  it('reads a well-formed archive: checksums verified, events in order', async () => {
    const reader = await ArchiveReader.open(await archive({ 'events/000001.ndjson': events(1, 2, 3) }, manifestFor(3)), limits);
    expect(await collect(reader)).toEqual([1, 2, 3]);
    reader.close();
  });

  it('reads a zip directory many read windows long (small reads are served from 64 KiB windows) and every entry behind it', async () => {
    const files: Record<string, Buffer> = {};
    for (let n = 1; n <= 2000; n++) files[`events/${String(n).padStart(6, '0')}.ndjson`] = events(n);
    const file = await archive(files, manifestFor(2000, { counts: { events: 2000, eventFiles: 2000, assets: 0, users: 0 } }));
    const reader = await ArchiveReader.open(file, limits);
    expect(reader.namesOf('events')).toHaveLength(2000);
    expect(await collect(reader)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    reader.close();
  });

  it('refuses a newer format version with advice', async () => {
    const file = await archive({ 'events/000001.ndjson': events(1) }, manifestFor(1, { formatVersion: 2 }));
    await expect(ArchiveReader.open(file, limits)).rejects.toThrow(/format version 2; this AppVault reads up to version 1\. Upgrade/);
  });

  it('refuses another format and a missing manifest', async () => {
    await expect(ArchiveReader.open(await archive({ 'events/000001.ndjson': events(1) }, manifestFor(1, { format: 'other' })), limits)).rejects.toThrow(/names format "other"/);
    const zip = new yazl.ZipFile();
    zip.addBuffer(events(1), 'events/000001.ndjson');
    zip.end();
    const file = join(tempDir(), 'no-manifest.zip');
    await pipeline(zip.outputStream as unknown as NodeJS.ReadableStream, createWriteStream(file));
    await expect(ArchiveReader.open(file, limits)).rejects.toThrow(/no manifest\.json/);
  });

  it('refuses gaps in event numbers and a count that disagrees with the manifest', async () => {
    const gap = await ArchiveReader.open(await archive({ 'events/000001.ndjson': events(1, 3) }, manifestFor(2)), limits);
    await expect(collect(gap)).rejects.toThrow(/expected event number 2, found 3/);
    gap.close();
    const short = await ArchiveReader.open(await archive({ 'events/000001.ndjson': events(1, 2) }, manifestFor(3)), limits);
    await expect(collect(short)).rejects.toThrow(/holds 2 events, the manifest counts 3/);
    short.close();
  });

  it('refuses entries missing from the manifest, listed but absent, or over the expansion limit', async () => {
    const unlisted = await archive({ 'events/000001.ndjson': events(1), 'users.json': Buffer.from('[]') }, (entries) =>
      manifestFor(1)((entries as { name: string }[]).filter((e) => e.name !== 'users.json')),
    );
    await expect(ArchiveReader.open(unlisted, limits)).rejects.toThrow(/users\.json is not listed in the manifest/);
    const absent = await archive({ 'events/000001.ndjson': events(1) }, (entries) => manifestFor(1)([...entries, { name: 'users.json', size: 2, sha256: sha(Buffer.from('[]')) }]));
    await expect(ArchiveReader.open(absent, limits)).rejects.toThrow(/lists users\.json, but the archive does not contain it/);
    const big = await archive({ 'events/000001.ndjson': events(1) }, manifestFor(1));
    await expect(ArchiveReader.open(big, { maxExpandedBytes: 10 })).rejects.toThrow(InvalidArchiveError);
  });

  it('refuses a malformed event line, naming the file and event', async () => {
    const reader = await ArchiveReader.open(await archive({ 'events/000001.ndjson': Buffer.from(`${line(1)}\n{"number":2}\n`) }, manifestFor(2)), limits);
    await expect(collect(reader)).rejects.toThrow(/events\/000001\.ndjson: event 2 is malformed/);
    reader.close();
  });

  it('lets a reader stop early while other entries are being read, and closes the file only after them', async () => {
    // A restore that stops early (a point in time) while file restores read beside it: no read may
    // run on a dropped stream or a closed file (that threw from an fs callback and took the process down).
    const numbers = Array.from({ length: 30_000 }, (_, i) => i + 1);
    const files: Record<string, Buffer> = { 'events/000001.ndjson': events(...numbers) };
    for (let i = 1; i <= 6; i++) files[`assets/x${i}/1`] = Buffer.alloc(3 * 1024 * 1024, i);
    const file = await archive(files, manifestFor(numbers.length, { counts: { events: numbers.length, eventFiles: 1, assets: 6, users: 0 } }));
    for (let round = 0; round < 3; round++) {
      const reader = await ArchiveReader.open(file, limits);
      await reader.scan(() => undefined);
      const streams = await Promise.all(Array.from({ length: 6 }, (_, i) => reader.open(`assets/x${i + 1}/1`)));
      const drained = streams.map((stream) => new Promise<void>((resolve) => stream.on('data', () => undefined).once('close', resolve).once('error', () => resolve())));
      for await (const event of reader.events()) if (event.number >= 10 + round * 500) break;
      for (const stream of streams.slice(0, 3)) stream.destroy();
      reader.close();
      await Promise.all(drained);
    }
    // The file reads whole afterwards.
    const reader = await ArchiveReader.open(file, limits);
    let bytes = 0;
    for await (const chunk of await reader.open('assets/x3/1')) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(3 * 1024 * 1024);
    reader.close();
  });
});
