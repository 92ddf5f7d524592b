import { Injectable } from '@nestjs/common';
import type { RepositoryBackup } from '../../contract/repositories.schemas.js';
import { type RepositoryListing, type RepositoryStore, RepositoryStoreError } from '../../infrastructure/repository-store/repository-store.port.js';
import { unavailable } from '../../platform/domain-errors.js';
import { parseBoundedJson } from '../../platform/json/bounded-json.js';
import { excerpt } from '../../platform/text/control-characters.js';
import { COPY_FORMAT, COPY_FORMAT_VERSION, COPY_ROOT, copyArchiveKey, copyManifestSchema, isCopyManifestKey, MAX_COPY_MANIFEST_BYTES } from '../copy-layout.js';
import { LocalBackupsSource } from '../local-backups.port.js';
import { LOCAL_REPOSITORY } from '../repository-registry.port.js';
import { RepositoriesService } from '../manage/repositories.service.js';
import { RepositoryRegistryService } from '../registry/repository-registry.service.js';

/** One listing shows at most this many entries (`truncated` says when there were more). */
export const MAX_LISTED = 1000;
/** Manifests read at once: a listing of a remote bucket waits on round trips, not bytes. */
const READ_AHEAD = 8;

export interface RepositoryBackupList {
  items: RepositoryBackup[];
  truncated: boolean;
}

/**
 * What a repository holds, read from the copy manifests beside the archives (copy-layout.ts),
 * whoever wrote them. Each manifest is untrusted input: bounded in size, parsed with a depth
 * limit, checked field by field, and tied to where it lies (its archive key must be the one the
 * layout gives its app and backup). One that fails any of that is an entry with its error in
 * words, not a failed listing.
 */
@Injectable()
export class RepositoryBackupsService {
  constructor(
    private readonly registry: RepositoryRegistryService,
    private readonly repositories: RepositoriesService,
    private readonly local: LocalBackupsSource,
  ) {}

  async list(nameOrId: string): Promise<RepositoryBackupList> {
    const source = this.local.get();
    const own = await source.installationId();
    if (nameOrId === LOCAL_REPOSITORY) {
      const { items, total } = await source.completed(MAX_LISTED);
      return {
        items: items.map(({ key, sizeBytes, sha256, ...backup }) => ({ key, installation: own, own: true, backup, sizeBytes, sha256, error: null })),
        truncated: total > items.length,
      };
    }
    const record = await this.repositories.require(nameOrId);
    try {
      const { store } = await this.registry.open(record.name);
      return await listCopies(store, own);
    } catch (error) {
      if (error instanceof RepositoryStoreError) throw unavailable(`Cannot list the repository "${record.name}": ${error.message}`);
      throw error;
    }
  }
}

/** Every copy manifest under the layout's root, read a few at a time, newest backup first, unreadable ones last. */
export async function listCopies(store: RepositoryStore, ownInstallation: string): Promise<RepositoryBackupList> {
  const manifests: RepositoryListing[] = [];
  let truncated = false;
  for await (const object of store.list(COPY_ROOT)) {
    if (!isCopyManifestKey(object.key)) continue;
    if (manifests.length === MAX_LISTED) {
      truncated = true;
      break;
    }
    manifests.push(object);
  }
  const items: RepositoryBackup[] = [];
  for (let at = 0; at < manifests.length; at += READ_AHEAD) {
    items.push(...(await Promise.all(manifests.slice(at, at + READ_AHEAD).map((object) => readCopy(store, object, ownInstallation)))));
  }
  const newestFirst = (a: RepositoryBackup, b: RepositoryBackup) => {
    if (!a.backup || !b.backup) return a.backup ? -1 : b.backup ? 1 : a.key < b.key ? -1 : 1;
    return a.backup.completed < b.backup.completed ? 1 : a.backup.completed > b.backup.completed ? -1 : a.key < b.key ? -1 : 1;
  };
  return { items: items.sort(newestFirst), truncated };
}

/** One entry: the manifest's backup when it passes every check, else its error in words. */
export async function readCopy(store: RepositoryStore, object: RepositoryListing, ownInstallation: string): Promise<RepositoryBackup> {
  const archiveKey = object.key.replace(/\.copy\.json$/, '.zip');
  const failed = (error: string, installation: string | null = null): RepositoryBackup => ({
    key: archiveKey,
    installation,
    own: installation === ownInstallation,
    backup: null,
    sizeBytes: null,
    sha256: null,
    error,
  });
  if (object.size > MAX_COPY_MANIFEST_BYTES) return failed(`The copy manifest is ${object.size} bytes, more than the ${MAX_COPY_MANIFEST_BYTES} a listing reads; it was not read`);
  let text: string;
  try {
    text = await readBounded(store, object.key);
  } catch (error) {
    return failed(`The copy manifest cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const json = parseBoundedJson(text);
  if ('problem' in json) return failed(`The copy manifest cannot be read: ${json.problem}`);
  const header = (typeof json.value === 'object' && json.value !== null ? json.value : {}) as { format?: unknown; version?: unknown; installation?: unknown };
  const installation = typeof header.installation === 'string' && header.installation.length <= 100 ? excerpt(header.installation, 100) : null;
  if (header.format !== COPY_FORMAT) return failed(`Not an AppVault copy manifest (its format is not "${COPY_FORMAT}")`, installation);
  if (typeof header.version === 'number' && header.version > COPY_FORMAT_VERSION) {
    return failed(`Written by a newer AppVault (copy format version ${header.version}; this one reads version ${COPY_FORMAT_VERSION}): upgrade to use it`, installation);
  }
  const parsed = copyManifestSchema.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return failed(`The copy manifest is malformed at ${issue.path.join('.') || '(top)'}: ${issue.message}`, installation);
  }
  const manifest = parsed.data;
  const expected = copyArchiveKey(manifest.backup.appName, manifest.backup.id);
  if (manifest.archive.key !== archiveKey || expected !== archiveKey) {
    return failed(`The copy manifest does not belong where it lies: it describes backup ${manifest.backup.id} of app ${excerpt(manifest.backup.appName, 100)}, whose archive would be ${excerpt(expected, 300)}`, manifest.installation);
  }
  return {
    key: archiveKey,
    installation: manifest.installation,
    own: manifest.installation === ownInstallation,
    backup: manifest.backup,
    sizeBytes: manifest.archive.sizeBytes,
    sha256: manifest.archive.sha256,
    error: null,
  };
}

/** The object's text, refusing it once it passes the cap (the listing's size may be older than the object). */
async function readBounded(store: RepositoryStore, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = await store.get(key);
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_COPY_MANIFEST_BYTES) {
      stream.destroy();
      throw new Error(`it is larger than the ${MAX_COPY_MANIFEST_BYTES} bytes a listing reads`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
