import { Injectable } from '@nestjs/common';
import type { RepositoryBackup } from '../../contract/repositories.schemas.js';
import { type RepositoryListing, type RepositoryStore, RepositoryStoreError } from '../../infrastructure/repository-store/repository-store.port.js';
import { unavailable } from '../../platform/domain-errors.js';
import { COPY_ROOT, isCopyManifestKey, MAX_COPY_MANIFEST_BYTES } from '../shared/copy-layout.js';
import { checkCopyManifest, readCopyManifestText } from '../shared/copy-manifest-reader.js';
import { LocalBackupsSource } from '../shared/local-backups.port.js';
import { LOCAL_REPOSITORY } from '../shared/repository-registry.port.js';
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
        items: items.map(({ key, sizeBytes, sha256, encrypted, ...backup }) => ({ key, installation: own, own: true, backup, sizeBytes, sha256, encrypted, error: null })),
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
  // Until the manifest is read, the archive is taken to be a plain zip's key.
  const archiveKey = object.key.replace(/\.copy\.json$/, '.zip');
  const failed = (error: string, installation: string | null = null): RepositoryBackup => ({
    key: archiveKey,
    installation,
    own: installation === ownInstallation,
    backup: null,
    sizeBytes: null,
    sha256: null,
    encrypted: null,
    error,
  });
  if (object.size > MAX_COPY_MANIFEST_BYTES) return failed(`The copy manifest is ${object.size} bytes, more than the ${MAX_COPY_MANIFEST_BYTES} a listing reads; it was not read`);
  let text: string;
  try {
    text = await readCopyManifestText(store, object.key);
  } catch (error) {
    return failed(`The copy manifest cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const checked = checkCopyManifest(text, object.key);
  if ('error' in checked) return failed(checked.error, checked.installation);
  const { manifest } = checked;
  return {
    key: manifest.archive.key,
    installation: manifest.installation,
    own: manifest.installation === ownInstallation,
    backup: manifest.backup,
    sizeBytes: manifest.archive.sizeBytes,
    sha256: manifest.archive.sha256,
    encrypted: manifest.encrypted === true,
    error: null,
  };
}
