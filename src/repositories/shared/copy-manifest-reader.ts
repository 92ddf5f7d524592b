import type { z } from 'zod';
import { ObjectNotFoundError, type RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';
import { parseBoundedJson } from '../../platform/json/bounded-json.js';
import { excerpt, quoted } from '../../platform/text/control-characters.js';
import { COPY_FORMAT, COPY_FORMAT_VERSION, copyArchiveKey, copyManifestKey, copyManifestSchema, MAX_COPY_MANIFEST_BYTES } from './copy-layout.js';

/** A copy manifest that passed every check. */
export type CheckedCopyManifest = z.infer<typeof copyManifestSchema>;

/**
 * The text of a copy manifest, refused once it passes MAX_COPY_MANIFEST_BYTES (a listing's size
 * may be older than the object, and whoever wrote it may not be AppVault).
 */
export async function readCopyManifestText(store: RepositoryStore, key: string): Promise<string> {
  return readObjectText(store, key, MAX_COPY_MANIFEST_BYTES, 'a copy manifest');
}

/** A small object's text, refused once it passes `max` bytes (`what` it is, for the message). */
export async function readObjectText(store: RepositoryStore, key: string, max: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = await store.get(key);
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) {
      stream.destroy();
      throw new Error(`it is larger than the ${max} bytes ${what} can be`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The checked copy manifest beside the archive `archiveKey`, or undefined when there is none.
 * Throws, in words, when it cannot be read, fails a check, or describes another archive.
 */
export async function readCheckedCopyManifest(store: RepositoryStore, archiveKey: string): Promise<CheckedCopyManifest | undefined> {
  const key = copyManifestKey(archiveKey);
  let text: string;
  try {
    text = await readCopyManifestText(store, key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw new Error(`Reading the copy manifest ${quoted(key, 200)} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const checked = checkCopyManifest(text, key);
  if ('error' in checked) throw new Error(`${checked.error} (${quoted(key, 200)}); the copy is damaged or not AppVault's`);
  if (checked.manifest.archive.key !== archiveKey) throw new Error(`The copy manifest ${quoted(key, 200)} describes ${quoted(checked.manifest.archive.key, 200)}, not ${quoted(archiveKey, 200)}`);
  return checked.manifest;
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
    return { error: `Written by a newer AppVault (copy format version ${header.version}; this one reads versions up to ${COPY_FORMAT_VERSION}): upgrade to use it`, installation };
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
