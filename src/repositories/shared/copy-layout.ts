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
/** The newest copy format this AppVault reads: 1, an archive whole; 2, a frame and shared files (copy-files.ts). */
export const COPY_FORMAT_VERSION = 2;
/** A copy that holds its archive whole, as every copy did before shared files. */
export const WHOLE_COPY_VERSION = 1;
/** A copy whose larger file versions lie once per app in the repository's shared files. */
export const SHARED_FILES_COPY_VERSION = 2;

export const copyArchiveKey = (appName: string, backupId: string, encrypted = false) => `${COPY_ROOT}/${appName}/${backupId}.zip${encrypted ? '.age' : ''}`;
export const copyManifestKey = (archiveKey: string) => archiveKey.replace(/\.zip(\.age)?$/, '.copy.json');
/** A version-2 copy's frame: its archive with the bytes of its shared files taken out (only plain archives have one). */
export const copyFrameKey = (archiveKey: string) => archiveKey.replace(/\.zip$/, '.frame');
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

/**
 * One shared file a version-2 copy's archive holds: the `size` bytes at offset `at` of the archive
 * are the object `appvault-files/{appId}/{sha256}` (copy-files.ts), whose SHA-256 they have.
 */
export interface CopyFileRef {
  at: number;
  size: number;
  sha256: string;
}

/** What is stored beside a copy: enough to list it and choose it without opening the archive. */
export interface CopyManifest {
  format: typeof COPY_FORMAT;
  version: typeof WHOLE_COPY_VERSION | typeof SHARED_FILES_COPY_VERSION;
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
  /**
   * The archive: its key, size and SHA-256 (of the bytes stored: encrypted, when it is). In a
   * version-2 copy no object has this key: the archive is its frame and files put back together.
   */
  archive: { key: string; sizeBytes: number; sha256: string };
  /** Version 2: the frame object (the archive without the files' bytes), its size and SHA-256. */
  frame?: { key: string; sizeBytes: number; sha256: string };
  /** Version 2: the shared files, in the order of their offsets. */
  files?: CopyFileRef[];
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
  const { manifest, files, ...rest } = copy;
  let head = JSON.stringify(rest, null, 2);
  if (files) {
    // One line per file: a copy may share tens of thousands, and indented objects would triple the manifest.
    const lines = files.map((file) => `    ${JSON.stringify(file)}`).join(',\n');
    head = `${head.slice(0, head.lastIndexOf('\n}'))},\n  "files": [\n${lines}\n  ]\n}`;
  }
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
const SHA256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
/** An app id as a key segment of the shared files: what any installation writes (UUIDs), nothing that could be a path. */
export const APP_ID_SEGMENT = /^[0-9A-Za-z][0-9A-Za-z-]{0,63}$/;
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
  version: z.union([z.literal(WHOLE_COPY_VERSION), z.literal(SHARED_FILES_COPY_VERSION)]),
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
  archive: z.object({ key: text(1024).min(1), sizeBytes: count, sha256: SHA256 }),
  frame: z.object({ key: text(1024).min(1), sizeBytes: count, sha256: SHA256 }).optional(),
  files: z.array(z.object({ at: count, size: count.min(1), sha256: SHA256 })).optional(),
  encrypted: z.literal(true).optional(),
  manifest: z.looseObject({ format: z.literal(FORMAT_NAME) }).optional(),
})
  .refine((copy) => copy.encrypted === true || copy.manifest !== undefined, { message: 'a plain archive’s copy manifest holds the archive’s manifest', path: ['manifest'] })
  .refine((copy) => (copy.version === SHARED_FILES_COPY_VERSION) === (copy.frame !== undefined && copy.files !== undefined), { message: 'a version-2 copy, and only one, has a frame and files', path: ['frame'] })
  .refine((copy) => copy.files === undefined || (copy.encrypted !== true && APP_ID_SEGMENT.test(copy.backup.appId)), { message: 'shared files belong to plain archives of an app id made of letters, digits and dashes', path: ['files'] })
  .refine((copy) => copy.frame === undefined || copy.frame.key === copyFrameKey(copy.archive.key), { message: 'the frame lies beside the archive’s key, as {backup id}.frame', path: ['frame', 'key'] })
  .refine((copy) => !copy.files || fitsArchive(copy.files, copy.archive.sizeBytes, copy.frame?.sizeBytes ?? 0), { message: 'the files overlap, are out of order, or do not add up with the frame to the archive’s size', path: ['files'] });

/** Whether files and frame tile the archive exactly: offsets ascending, no overlap, frame = the rest. */
function fitsArchive(files: readonly CopyFileRef[], archiveSize: number, frameSize: number): boolean {
  let end = 0;
  let shared = 0;
  for (const file of files) {
    if (file.at < end) return false;
    end = file.at + file.size;
    shared += file.size;
  }
  return end <= archiveSize && archiveSize - shared === frameSize;
}
