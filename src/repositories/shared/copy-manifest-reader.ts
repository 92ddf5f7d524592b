import type { z } from 'zod';
import type { RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';
import { parseBoundedJson } from '../../platform/json/bounded-json.js';
import { excerpt } from '../../platform/text/control-characters.js';
import { COPY_FORMAT, COPY_FORMAT_VERSION, copyArchiveKey, copyManifestKey, copyManifestSchema, MAX_COPY_MANIFEST_BYTES } from './copy-layout.js';

/** A copy manifest that passed every check. */
export type CheckedCopyManifest = z.infer<typeof copyManifestSchema>;

/**
 * The text of a copy manifest, refused once it passes MAX_COPY_MANIFEST_BYTES (a listing's size
 * may be older than the object, and whoever wrote it may not be AppVault).
 */
export async function readCopyManifestText(store: RepositoryStore, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = await store.get(key);
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_COPY_MANIFEST_BYTES) {
      stream.destroy();
      throw new Error(`it is larger than the ${MAX_COPY_MANIFEST_BYTES} bytes a copy manifest can be`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Checks a copy manifest read from a repository, for the listing and for a restore from a copy
 * alike: bounded JSON, AppVault's format at a version this one reads, every field it shows
 * (copyManifestSchema), and that it lies beside the archive it describes. The error is in words
 * a person can act on, with the installation the manifest names when it names one plainly.
 */
export function checkCopyManifest(text: string, manifestKey: string): { manifest: CheckedCopyManifest } | { error: string; installation: string | null } {
  const json = parseBoundedJson(text);
  if ('problem' in json) return { error: `The copy manifest cannot be read: ${json.problem}`, installation: null };
  const header = (typeof json.value === 'object' && json.value !== null ? json.value : {}) as { format?: unknown; version?: unknown; installation?: unknown };
  const installation = typeof header.installation === 'string' && header.installation.length <= 100 ? excerpt(header.installation, 100) : null;
  if (header.format !== COPY_FORMAT) return { error: `Not an AppVault copy manifest (its format is not "${COPY_FORMAT}")`, installation };
  if (typeof header.version === 'number' && header.version > COPY_FORMAT_VERSION) {
    return { error: `Written by a newer AppVault (copy format version ${header.version}; this one reads version ${COPY_FORMAT_VERSION}): upgrade to use it`, installation };
  }
  const parsed = copyManifestSchema.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { error: `The copy manifest is malformed at ${issue.path.join('.') || '(top)'}: ${issue.message}`, installation };
  }
  const manifest = parsed.data;
  const expected = copyArchiveKey(manifest.backup.appName, manifest.backup.id, manifest.encrypted === true);
  if (manifest.archive.key !== expected || copyManifestKey(expected) !== manifestKey) {
    return {
      error: `The copy manifest does not belong where it lies: it describes backup ${manifest.backup.id} of app ${excerpt(manifest.backup.appName, 100)}, whose archive would be ${excerpt(expected, 300)}`,
      installation: manifest.installation,
    };
  }
  return { manifest };
}
