import type { Manifest } from '../archive/archive-format.js';
import { manifestText } from '../archive/archive-writer.js';

/**
 * How a backup's copy lies in a repository other than `local`, so that any installation
 * configured with the same repository can list and restore it: the archive (format unchanged) at
 * `appvault/{appName}/{backupId}.zip` and, beside it, `{backupId}.copy.json` (a CopyManifest).
 * The archive is written first and the manifest last, so a listed manifest always has its
 * archive; a listing reads only manifests.
 */
export const COPY_ROOT = 'appvault';
export const COPY_FORMAT = 'appvault-backup-copy';
export const COPY_FORMAT_VERSION = 1;

export const copyArchiveKey = (appName: string, backupId: string) => `${COPY_ROOT}/${appName}/${backupId}.zip`;
export const copyManifestKey = (archiveKey: string) => archiveKey.replace(/\.zip$/, '.copy.json');
export const isCopyManifestKey = (key: string) => key.startsWith(`${COPY_ROOT}/`) && key.endsWith('.copy.json');

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
  /** The archive object: its key, size and SHA-256 (of the bytes stored). */
  archive: { key: string; sizeBytes: number; sha256: string };
  /** The archive's own manifest.json, as in the zip. */
  manifest: Manifest;
}

/**
 * A CopyManifest as JSON text, in pieces: the archive's manifest may list tens of thousands of
 * entries, and serialising it whole would hold the event loop.
 */
export async function* copyManifestText(copy: CopyManifest): AsyncGenerator<Buffer> {
  const { manifest, ...rest } = copy;
  const head = JSON.stringify(rest, null, 2);
  yield Buffer.from(`${head.slice(0, head.lastIndexOf('\n}'))},\n  "manifest": `);
  const { entries, ...inner } = manifest;
  yield* manifestText(inner, entries);
  yield Buffer.from('\n}\n');
}
