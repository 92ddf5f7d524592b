import { z } from 'zod';
import { FORMAT_NAME, type Manifest } from '../../archive/archive-format.js';
import { manifestText } from '../../archive/archive-writer.js';
import { singleLine } from '../../platform/text/plain-text.checks.js';
import { NAME_MAX, NAME_PATTERN } from '../../platform/text/identifier.rules.js';

/**
 * How a backup's copy lies in a repository other than `local`, so that any installation
 * configured with the same repository can list and restore it: the archive (format unchanged) at
 * `appvault/{appName}/{backupId}.zip` (`.zip.age` when encrypted) and, beside it,
 * `{backupId}.copy.json` (a CopyManifest).
 * The archive is written first and the manifest last, so a listed manifest always has its
 * archive; a listing reads only manifests.
 */
export const COPY_ROOT = 'appvault';
export const COPY_FORMAT = 'appvault-backup-copy';
export const COPY_FORMAT_VERSION = 1;

export const copyArchiveKey = (appName: string, backupId: string, encrypted = false) => `${COPY_ROOT}/${appName}/${backupId}.zip${encrypted ? '.age' : ''}`;
export const copyManifestKey = (archiveKey: string) => archiveKey.replace(/\.zip(\.age)?$/, '.copy.json');
export const isCopyManifestKey = (key: string) => key.startsWith(`${COPY_ROOT}/`) && key.endsWith('.copy.json');

/** A backup id as a key segment: what any installation writes (UUIDs), nothing that could be a path. */
const BACKUP_ID = /^[0-9A-Za-z][0-9A-Za-z-]{0,99}$/;

/**
 * What an archive key names, when it is a copy's archive in this layout; undefined for anything
 * else (another folder, a manifest, a `..`, a name no app can have), which a restore refuses
 * before the repository is asked for it.
 */
export function parseCopyArchiveKey(key: string): { appName: string; backupId: string; encrypted: boolean } | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || parts[0] !== COPY_ROOT) return undefined;
  const [, appName = '', file = ''] = parts;
  const encrypted = file.endsWith('.zip.age');
  const backupId = encrypted ? file.slice(0, -'.zip.age'.length) : file.endsWith('.zip') ? file.slice(0, -'.zip'.length) : '';
  if (appName.length > NAME_MAX || !NAME_PATTERN.test(appName) || !BACKUP_ID.test(backupId)) return undefined;
  return { appName, backupId, encrypted };
}

/** What is stored beside a copy: enough to list it and choose it without opening the archive. */
export interface CopyManifest {
  format: typeof COPY_FORMAT;
  version: typeof COPY_FORMAT_VERSION;
  /** The installation that wrote it (its id), so a listing can tell its own copies from another's. */
  installation: string;
  backup: {
    id: string;
    appId: string;
    appName: string;
    label: string;
    created: string;
    completed: string;
    partial: boolean;
    eventCount: number;
    assetCount: number;
    userCount: number;
  };
  /** The archive object: its key, size and SHA-256 (of the bytes stored: encrypted, when it is). */
  archive: { key: string; sizeBytes: number; sha256: string };
  /** The archive is encrypted in the age format (absent: a plain zip). */
  encrypted?: true;
  /**
   * The archive's own manifest.json, as in the zip; absent when the archive is encrypted, since its
   * entries (asset ids, sizes, checksums) are part of what the encryption hides.
   */
  manifest?: Manifest;
}

/**
 * A CopyManifest as JSON text, in pieces: the archive's manifest may list tens of thousands of
 * entries, and serialising it whole would hold the event loop.
 */
export async function* copyManifestText(copy: CopyManifest): AsyncGenerator<Buffer> {
  const { manifest, ...rest } = copy;
  const head = JSON.stringify(rest, null, 2);
  if (!manifest) {
    yield Buffer.from(`${head}\n`);
    return;
  }
  yield Buffer.from(`${head.slice(0, head.lastIndexOf('\n}'))},\n  "manifest": `);
  const { entries, ...inner } = manifest;
  yield* manifestText(inner, entries);
  yield Buffer.from('\n}\n');
}

/** A copy manifest larger than this is not read: it would take memory and parse time out of proportion to a listing. */
export const MAX_COPY_MANIFEST_BYTES = 16 * 1024 * 1024;

const text = (max: number) => z.string().max(max).check(singleLine());
const count = z.number().int().min(0);
const time = z.iso.datetime({ offset: true });

/**
 * A copy manifest as a reader checks it: whatever a repository holds may have been written by
 * another installation, another version, or someone else altogether, so every field a listing
 * shows is checked (plain one-line text of bounded length, counts, times, a SHA-256). Fields it
 * does not know are ignored (a newer version may add some); the archive's own manifest is checked
 * in full by whoever opens the archive.
 */
export const copyManifestSchema = z.object({
  format: z.literal(COPY_FORMAT),
  version: z.literal(COPY_FORMAT_VERSION),
  installation: text(100).min(1),
  backup: z.object({
    id: text(64).min(1),
    appId: text(64).min(1),
    appName: text(100).min(1),
    label: text(200),
    created: time,
    completed: time,
    partial: z.boolean(),
    eventCount: count,
    assetCount: count,
    userCount: count,
  }),
  archive: z.object({ key: text(1024).min(1), sizeBytes: count, sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits') }),
  encrypted: z.literal(true).optional(),
  manifest: z.looseObject({ format: z.literal(FORMAT_NAME) }).optional(),
}).refine((copy) => copy.encrypted === true || copy.manifest !== undefined, { message: 'a plain archive’s copy manifest holds the archive’s manifest', path: ['manifest'] });
