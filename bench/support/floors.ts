/**
 * The floors the backup and restore are measured against: the least work that produces the same
 * result, written plainly with the same libraries, on the same data and machine, in the same run.
 *
 * Backup floor: read the app's rows → NDJSON lines built from the stored JSON text → deflate into
 * zip entries of 1,000 events (yazl), plus every asset file version copied in (stored when
 * already compressed, as the backup does). No checksums, no manifest, no job state.
 *
 * Restore floor: inflate each events entry → parse every line → insert the events into a fresh
 * SQLite file (one transaction per entry, synchronous=FULL like the event store) → fold them in
 * memory to each entity's final read-model document → write each document and its full-text row
 * once (FTS5, contentless) → write every asset file version to disk, fsynced. No validation, no
 * checksum pass, no name index, no job state. It keeps every entity in memory, which a real
 * restore must not.
 */
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { ArchivedEvent } from '../../src/archive/archive-format.js';

const COMPRESSED = /^(image\/(jpeg|png|gif|webp|avif)|video\/|audio\/|application\/(zip|gzip|x-7z-compressed|x-rar-compressed|pdf))/;

interface Row {
  stream: string;
  stream_version: number;
  type: string;
  data: string;
  metadata: string;
}

export async function backupFloor(eventsDb: string, blobsDir: string, appId: string, outFile: string): Promise<{ ms: number; events: number }> {
  const started = performance.now();
  const db = new Database(eventsDb, { readonly: true });
  const page = db.prepare<[string, number], Row & { position: number }>('SELECT position, stream, stream_version, type, data, metadata FROM events WHERE app_id = ? AND position > ? ORDER BY position LIMIT 1000');
  const zip = new yazl.ZipFile();
  const written = pipeline(zip.outputStream, createWriteStream(outFile));
  let number = 0;
  let file = 0;
  let after = 0;
  for (;;) {
    const rows = page.all(appId, after);
    if (rows.length === 0) break;
    const lines: string[] = [];
    const files: { name: string; path: string; mimeType: string }[] = [];
    for (const row of rows) {
      number += 1;
      const meta = JSON.parse(row.metadata) as { actor: string; timestamp: string; schemaVersion: number };
      lines.push(
        `{"number":${number},"stream":${JSON.stringify(row.stream)},"streamVersion":${row.stream_version},"type":${JSON.stringify(row.type)},"timestamp":"${meta.timestamp}","actor":${JSON.stringify(meta.actor)},"schemaVersion":${meta.schemaVersion},"data":${row.data}}\n`,
      );
      if (row.type === 'AssetCreated' || row.type === 'AssetFileReplaced') {
        const data = JSON.parse(row.data) as { fileVersion: number; mimeType: string };
        const assetId = row.stream.slice(row.stream.indexOf('--') + 2);
        files.push({ name: `assets/${assetId}/${data.fileVersion}`, path: join(blobsDir, 'assets', appId, assetId, String(data.fileVersion)), mimeType: data.mimeType });
      }
    }
    file += 1;
    zip.addBuffer(Buffer.from(lines.join('')), `events/${String(file).padStart(6, '0')}.ndjson`, { compress: true });
    for (const f of files) zip.addReadStreamLazy(f.name, { compress: !COMPRESSED.test(f.mimeType) }, (callback) => callback(null, createReadStream(f.path)));
    after = rows[rows.length - 1]!.position;
    // Let yazl drain what it has before reading more, as any streaming writer must.
    await new Promise((r) => setImmediate(r));
  }
  zip.end();
  await written;
  db.close();
  return { ms: performance.now() - started, events: number };
}

/** Each entity's final document, folded in memory; the shapes are what the read models hold. */
type EntityDoc = Record<string, unknown> & { text?: string };

export async function restoreFloor(archive: string, workDir: string): Promise<{ ms: number; events: number; documents: number }> {
  const started = performance.now();
  mkdirSync(join(workDir, 'files'), { recursive: true });
  const db = new Database(join(workDir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, stream_version INTEGER NOT NULL, app_id TEXT, app_number INTEGER, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream, stream_version));
    CREATE TABLE docs (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
    CREATE VIRTUAL TABLE fts USING fts5 (body, content = '', contentless_delete = 1);
  `);
  const insert = db.prepare('INSERT INTO events (stream, stream_version, app_id, app_number, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const appId = 'floor-app';
  const docs = new Map<string, EntityDoc>();
  const zip = await yauzl.openPromise(archive, { lazyEntries: true, autoClose: false });
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', resolve);
    zip.once('error', reject);
    zip.readEntry();
  });
  let events = 0;
  for (const entry of entries.filter((e) => e.fileName.startsWith('events/')).sort((a, b) => a.fileName.localeCompare(b.fileName))) {
    const lines: ArchivedEvent[] = [];
    for await (const line of createInterface({ input: await zip.openReadStreamPromise(entry), crlfDelay: Infinity })) {
      if (line) lines.push(JSON.parse(line) as ArchivedEvent);
    }
    db.transaction(() => {
      for (const e of lines) {
        events += 1;
        insert.run(e.stream, e.streamVersion, appId, e.number, e.type, JSON.stringify(e.data), JSON.stringify({ appId, actor: e.actor, timestamp: e.timestamp, schemaVersion: e.schemaVersion }));
        fold(docs, e);
      }
    })();
  }
  for (const entry of entries.filter((e) => e.fileName.startsWith('assets/'))) {
    await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(join(workDir, 'files', entry.fileName.replaceAll('/', '_')), { flush: true }));
  }
  zip.close();
  const put = db.prepare<[string, string], { rid: number }>('INSERT INTO docs (id, doc) VALUES (?, ?) RETURNING rid');
  const text = db.prepare('INSERT INTO fts (rowid, body) VALUES (?, ?)');
  db.transaction(() => {
    for (const [id, doc] of docs) {
      const { text: body, ...rest } = doc;
      const { rid } = put.get(id, JSON.stringify(rest))!;
      if (body !== undefined) text.run(rid, body);
    }
  })();
  db.close();
  return { ms: performance.now() - started, events, documents: docs.size };
}

function fold(docs: Map<string, EntityDoc>, e: ArchivedEvent): void {
  const id = e.stream;
  const touch = { version: e.streamVersion, lastModified: e.timestamp, lastModifiedBy: e.actor };
  switch (e.type) {
    case 'AppCreated':
    case 'SchemaCreated':
    case 'AssetCreated':
      docs.set(id, { ...e.data, ...touch, created: e.timestamp, createdBy: e.actor, versions: [e.data] });
      return;
    case 'ContentCreated':
      docs.set(id, { ...e.data, ...touch, created: e.timestamp, createdBy: e.actor, text: flatten(e.data['data']) });
      return;
    case 'ContentUpdated': {
      const doc = docs.get(id);
      if (doc) docs.set(id, { ...doc, ...touch, data: e.data['data'], text: flatten(e.data['data']) });
      return;
    }
    case 'ContentDeleted':
    case 'AssetDeleted':
      docs.delete(id);
      return;
    case 'AssetFileReplaced': {
      const doc = docs.get(id);
      if (doc) docs.set(id, { ...doc, ...e.data, ...touch, versions: [...(doc['versions'] as unknown[]), e.data] });
      return;
    }
    default: {
      const doc = docs.get(id);
      if (doc) docs.set(id, { ...doc, ...e.data, ...touch });
    }
  }
}

function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(flatten).join(' ');
  if (value && typeof value === 'object') return Object.values(value).map(flatten).join(' ');
  return '';
}
