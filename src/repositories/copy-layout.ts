import type { Manifest } from '../archive/archive-format.js';
import { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';

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

/** A backup id as a key segment: what any installation writes (UUIDs), nothing that could be a path. */
const BACKUP_ID = /^[0-9A-Za-z][0-9A-Za-z-]{0,99}$/;

/**
 * What an archive key names, when it is a copy's archive in this layout; undefined for anything
 * else (another folder, a manifest, a `..`, a name no app can have), which a restore refuses
 * before the repository is asked for it.
 */
export function parseCopyArchiveKey(key: string): { appName: string; backupId: string } | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || parts[0] !== COPY_ROOT) return undefined;
  const [, appName = '', file = ''] = parts;
  const backupId = file.endsWith('.zip') ? file.slice(0, -'.zip'.length) : '';
  if (appName.length > NAME_MAX || !NAME_PATTERN.test(appName) || !BACKUP_ID.test(backupId)) return undefined;
  return { appName, backupId };
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
  /** The archive object: its key, size and SHA-256 (of the bytes stored). */
  archive: { key: string; sizeBytes: number; sha256: string };
  /** The archive's own manifest.json, as in the zip. */
  manifest: Manifest;
}
