import type { BackupSelection } from './archive-selection.js';

/**
 * Archive format v1, the single source of its names and limits. docs/backup-format.md describes
 * it for readers in other languages; keep the two in step.
 */
export const FORMAT_NAME = 'appvault-backup';
export const FORMAT_VERSION = 1;

export const MANIFEST_ENTRY = 'manifest.json';
export const USERS_ENTRY = 'users.json';
/** In partial archives only: the selection, a listed (so checksummed) copy of the manifest's `include`. */
export const SELECTION_ENTRY = 'selection.json';
/** Only in an encrypted archive whose backup asked for it: the API key hashes of the users in users.json (docs/backup-format.md). */
export const CREDENTIALS_ENTRY = 'credentials.json';

/** A batch file holds at most this many events, or roughly this many bytes, whichever comes first. */
export const EVENTS_PER_FILE = 1000;
export const EVENT_FILE_MAX_BYTES = 8 * 1024 * 1024;

export const eventFileName = (index: number) => `events/${String(index).padStart(6, '0')}.ndjson`;
export const assetEntryName = (assetId: string, fileVersion: number) => `assets/${assetId}/${fileVersion}`;

const EVENT_FILE = /^events\/(\d{6,})\.ndjson$/;
const ASSET_FILE = /^assets\/([A-Za-z0-9_-]{1,100})\/(\d{1,9})$/;

export type EntryKind = { kind: 'manifest' } | { kind: 'users' } | { kind: 'selection' } | { kind: 'credentials' } | { kind: 'events'; index: number } | { kind: 'asset'; assetId: string; fileVersion: number };

/**
 * Classifies an entry name; anything else (paths with `..`, absolute paths, unknown folders) is
 * refused, which also rules out zip-slip since entries are never extracted by name.
 */
export function classifyEntry(name: string): EntryKind | undefined {
  if (name === MANIFEST_ENTRY) return { kind: 'manifest' };
  if (name === USERS_ENTRY) return { kind: 'users' };
  if (name === SELECTION_ENTRY) return { kind: 'selection' };
  if (name === CREDENTIALS_ENTRY) return { kind: 'credentials' };
  const events = EVENT_FILE.exec(name);
  if (events) return { kind: 'events', index: Number(events[1]) };
  const asset = ASSET_FILE.exec(name);
  if (asset) return { kind: 'asset', assetId: asset[1]!, fileVersion: Number(asset[2]) };
  return undefined;
}

export interface ManifestEntry {
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** SHA-256 of the uncompressed bytes, lowercase hex. */
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT_NAME;
  formatVersion: number;
  app: { id: string; name: string };
  created: string;
  source: { installationId: string; eventStore: string; position: number };
  /** The backup this archive is (absent in archives written before incremental backups existed). */
  backupId?: string;
  /**
   * Only in an incremental archive: the archive it continues. Its events are those after the
   * base's `position` in the same store, numbered on from `events + 1`; a restore replays the base
   * (itself perhaps incremental) first. docs/backup-format.md, "Incremental archives".
   */
  base?: ManifestBase;
  counts: { events: number; eventFiles: number; assets: number; users: number };
  /**
   * Present and true in a partial archive, whose `include` says what it holds (also in the listed
   * entry selection.json, so the checksums cover it). Absent in archives of the whole app.
   */
  partial?: boolean;
  include?: BackupSelection;
  /** Entries the events call for that could not be written (an asset file gone from the blob store). */
  missing: { name: string; reason: string }[];
  warnings: string[];
  entries: ManifestEntry[];
}

/** How an incremental archive names the archive it continues. */
export interface ManifestBase {
  backupId: string;
  /** SHA-256 of the base archive as it is stored: of the `.zip`, or of the `.zip.age` file when the base is encrypted. */
  sha256: string;
  /** The base's `source.position`: this archive holds the app's events after it. */
  position: number;
  /** How many events the chain holds up to and including the base: this archive's first event is numbered one more. */
  events: number;
}

/**
 * One event as it stands in an archive's `events/NNNNNN.ndjson` files. Restores rewrite these
 * before appending them under the new app id.
 */
export interface ArchivedEvent {
  /** 1-based, gapless, in the order the events happened within the app. */
  number: number;
  stream: string;
  /** 0-based revision inside its stream. */
  streamVersion: number;
  type: string;
  timestamp: string;
  actor: string;
  schemaVersion: number;
  data: Record<string, unknown>;
}

export interface ArchivedUser {
  id: string;
  email: string;
  displayName: string;
}

/** Types whose bytes are compressed already: deflating them again costs time and gains nothing. */
export function isCompressedType(mimeType: string): boolean {
  const type = mimeType.toLowerCase().split(';')[0]!.trim();
  if (/^(image|video|audio)\//.test(type)) return !['image/svg+xml', 'image/bmp', 'image/x-icon', 'audio/wav', 'audio/x-wav'].includes(type);
  return [
    'application/zip',
    'application/gzip',
    'application/x-gzip',
    'application/x-7z-compressed',
    'application/x-bzip2',
    'application/x-xz',
    'application/zstd',
    'application/x-rar-compressed',
    'application/vnd.rar',
    'application/pdf',
    'application/epub+zip',
    'font/woff',
    'font/woff2',
  ].includes(type) || /^application\/vnd\.openxmlformats-officedocument\./.test(type);
}
