import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ArchiveWriter, archiveWriterThreads } from '../../src/archive/archive-writer.js';
import type { Manifest } from '../../src/archive/archive-format.js';
import { tempDir } from '../support/test-server.js';
import { compressionMethods, readZip } from '../support/zip-inspect.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const MANIFEST: Omit<Manifest, 'entries'> = {
  format: 'appvault-backup',
  formatVersion: 1,
  app: { id: 'a1', name: 'shop' },
  created: '2026-01-01T00:00:00.000Z',
  source: { installationId: 'i', eventStore: 'sqlite', position: 10 },
  counts: { events: 0, eventFiles: 1, assets: 2, users: 0 },
  missing: [],
  warnings: [],
} as unknown as Omit<Manifest, 'entries'>;

/** A consumer that takes the archive slowly, so the writer thread has to wait for it (backpressure). */
function slowFile(path: string): Writable {
  const file = createWriteStream(path);
  return new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      setTimeout(() => file.write(chunk, callback), 1);
    },
    final(callback) {
      file.end(callback);
    },
  });
}

describe('ArchiveWriter (its writer thread)', () => {
  it('writes entries larger than its window between the threads, stored or deflated as asked, with the checksums of what a reader gets back', async () => {
    // Text (deflated) well over the 4 MB the main thread may send ahead, a "photo" stored as it is, and a source of many small string chunks.
    const text = Buffer.from(Array.from({ length: 120_000 }, (_, i) => `{"number":${i + 1},"type":"ContentUpdated","data":{"title":"Article ${i}"}}\n`).join(''));
    const photo = randomBytes(3 * 1024 * 1024 + 17);
    const pieces = Array.from({ length: 2000 }, (_, i) => `piece ${i} ü\n`);
    const writer = new ArchiveWriter(new Date('2026-01-01T00:00:00Z'));
    const file = join(tempDir(), 'a.zip');
    const written = pipeline(writer.output, slowFile(file));
    // The buffer is handed over to the thread (transferred), so it is given a copy.
    await writer.addBuffer('events/000001.ndjson', Buffer.from(text), { compress: true });
    await writer.addEntry('assets/p1/0', async () => Readable.from([photo.subarray(0, 1000), photo.subarray(1000)]), { compress: false, size: photo.length });
    await writer.addEntry('notes.txt', async () => Readable.from(pieces), { compress: true });
    const manifest = await writer.finish(MANIFEST);
    await written;

    // Read back with plain yauzl, not the product's reader.
    const zip = await readZip(file);
    const notes = Buffer.from(pieces.join(''));
    expect([...zip.keys()]).toEqual(['events/000001.ndjson', 'assets/p1/0', 'notes.txt', 'manifest.json']);
    expect(zip.get('events/000001.ndjson')!.equals(text)).toBe(true);
    expect(zip.get('assets/p1/0')!.equals(photo)).toBe(true);
    expect(zip.get('notes.txt')!.equals(notes)).toBe(true);
    expect(Object.fromEntries(await compressionMethods(file))).toEqual({ 'events/000001.ndjson': 8, 'assets/p1/0': 0, 'notes.txt': 8, 'manifest.json': 8 });
    const expected = [
      { name: 'events/000001.ndjson', size: text.length, sha256: sha(text) },
      { name: 'assets/p1/0', size: photo.length, sha256: sha(photo) },
      { name: 'notes.txt', size: notes.length, sha256: sha(notes) },
    ];
    expect(manifest.entries).toEqual(expected);
    expect(JSON.parse(zip.get('manifest.json')!.toString('utf8'))).toEqual({ ...MANIFEST, entries: expected });
    expect(readFileSync(file).length).toBeLessThan(text.length + photo.length);
    expect(archiveWriterThreads().size).toBe(0);
  });

  it('fails with the message of a source that fails, and leaves no thread behind', async () => {
    const writer = new ArchiveWriter();
    const sink = pipeline(writer.output, new Writable({ write: (_c, _e, cb) => cb() })).catch((error: unknown) => error);
    await writer.addBuffer('events/000001.ndjson', Buffer.from('{}\n'), { compress: true });
    await writer.addEntry('assets/x/0', async () => {
      throw new Error('the blob store is unreachable');
    }, { compress: false });
    await expect(writer.finish(MANIFEST)).rejects.toThrow('the blob store is unreachable');
    expect(await sink).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(archiveWriterThreads().size).toBe(0);
  });

  const kills: [string, (thread: Worker) => void, RegExp][] = [
    ['stopped', (thread) => void thread.terminate(), /^The archive writer thread stopped unexpectedly \(exit code \d+\); the archive was not written$/],
    // A message the thread does not know throws there, uncaught: the thread crashes.
    ['crashed', (thread) => thread.postMessage({ op: 'no-such-step' }), /^The archive writer thread failed: unknown message "no-such-step"; the archive was not written$/],
  ];
  it.each(kills)('fails with a clear message when its thread is %s mid-write, and leaves no thread behind', async (_how, kill, message) => {
    const writer = new ArchiveWriter();
    const sink = pipeline(writer.output, new Writable({ write: (_c, _e, cb) => cb() })).catch((error: unknown) => error);
    await writer.addBuffer('events/000001.ndjson', Buffer.from('{}\n'), { compress: true });
    const [thread] = [...archiveWriterThreads()];
    kill(thread!);
    await expect(writer.finish(MANIFEST)).rejects.toThrow(message);
    expect(await sink).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(archiveWriterThreads().size).toBe(0);
  });
});
