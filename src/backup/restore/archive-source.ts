import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AppConfig } from '../../config/app-config.js';
import type { BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { invalid } from '../../platform/domain-errors.js';
import type { BackupJob } from '../shared/backup-job.js';
import type { BackupArchives } from '../shared/archive-locations.js';
import type { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { describeUrl } from './restore-job.js';
import { type RepositoryArchiveRef, stageRepositoryArchive } from './repository-source.js';
import { checkUrl, downloadToFile } from './url-fetcher.js';

/**
 * Where a restore (or its dry run) reads an archive from: an upload on this process's disk, one
 * staged in the blob store by the process that received it, a stored backup, a URL, a copy in a
 * backup repository (this installation's or another's).
 */
export type ArchiveSource =
  | { kind: 'upload'; file: string }
  | { kind: 'staged'; key: string }
  | { kind: 'backup'; backup: BackupJob }
  | { kind: 'url'; url: string }
  | ({ kind: 'repository' } & RepositoryArchiveRef);

/** Where restores (and their dry runs, and rollbacks reading an old archive) keep archives while they read them; emptied at start-up. */
export const tempDirOf = (config: Pick<AppConfig, 'dataDir'>) => join(config.dataDir, 'tmp');

/** Where an upload received by one process waits in the blob store for the process that restores it. */
export const stagedUploadKey = (jobId: string) => `restore-uploads/${jobId}.zip`;

/** A URL a restore may try, or a 400 saying why not (the address rules are checked when it is fetched). */
export function requireRestoreUrl(url: string): void {
  try {
    checkUrl(url);
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

/**
 * Puts the archive on local disk: an upload is already there; a stored backup is read in place
 * when the archive store keeps files, else copied to `file` from wherever it is (BackupArchives); a URL is downloaded, and a
 * repository's copy streamed, to `file` under the restore limits. `owned` says whether the caller
 * must remove the file afterwards.
 */
export async function archiveOnDisk(
  source: ArchiveSource,
  file: string,
  deps: { blobs: BlobStore; config: AppConfig; repositories?: RepositoryRegistry; archives?: Pick<BackupArchives, 'onDisk'>; log?: (message: string) => Promise<void> },
): Promise<{ file: string; owned: boolean }> {
  const log = deps.log ?? (async () => undefined);
  switch (source.kind) {
    case 'upload':
      await log('Using the uploaded archive');
      return { file: source.file, owned: true };
    case 'staged':
      return fromBlobStore(deps.blobs, source.key, file, log, 'the uploaded archive');
    case 'backup':
      if (!deps.archives) throw new Error('Reading a stored backup needs the backup archives');
      return deps.archives.onDisk(source.backup, file, log);
    case 'url': {
      await log(`Downloading ${describeUrl(source.url)}`);
      const { bytes } = await downloadToFile(source.url, file, {
        allowedHosts: deps.config.restoreAllowedHosts,
        maxBytes: deps.config.maxRestoreBytes,
        timeoutMs: deps.config.restoreUrlTimeoutMs,
      });
      await log(`Downloaded ${bytes} bytes`);
      return { file, owned: true };
    }
    case 'repository':
      if (!deps.repositories) throw new Error('Reading a copy in a repository needs the repository registry');
      await stageRepositoryArchive(deps.repositories, source, file, { maxBytes: deps.config.maxRestoreBytes, log });
      return { file, owned: true };
  }
}

/** A blob read in place when the store keeps it as a file, else copied to `file`. */
async function fromBlobStore(blobs: BlobStore, key: string, file: string, log: (message: string) => Promise<void>, what: string): Promise<{ file: string; owned: boolean }> {
  const inPlace = await blobs.localFile?.(key);
  if (inPlace) {
    await log(`Reading ${what} in place from the archive store`);
    return { file: inPlace, owned: false };
  }
  await log(`Copying ${what} from the archive store`);
  await pipeline(await blobs.get(key), createWriteStream(file, { mode: 0o600 }));
  return { file, owned: true };
}
