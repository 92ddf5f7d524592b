import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AppConfig } from '../../config/app-config.js';
import type { BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { invalid } from '../../platform/domain-errors.js';
import type { BackupJob } from '../shared/backup-job.js';
import type { BackupArchives } from '../shared/archive-locations.js';
import type { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { describeUrl } from './restore-job.js';
import { type RepositoryArchiveRef, stageRepositoryArchive } from './repository-source.js';
import { checkUrl, downloadToFile, type ResumableDownload } from './url-fetcher.js';
import { ArchiveKeys } from '../../archive/age-keys.js';
import { decryptArchiveFile, EncryptedArchiveError, isAgeFile } from '../../archive/archive-decryption.js';
import { wrongKeyMessage } from '../../archive/age-stream.js';

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

/** What opens an encrypted archive: the keys the request gave (if any), and this installation's own identity. */
export interface ArchiveOpeners {
  given: ArchiveKeys | null;
  installationIdentity: () => Promise<string>;
}

/** What archiveOnDisk reads an archive with. */
export interface ArchiveFetchDeps {
  blobs: BlobStore;
  config: AppConfig;
  repositories?: RepositoryRegistry;
  archives?: Pick<BackupArchives, 'onDisk'>;
  log?: (message: string) => Promise<void>;
  openers?: ArchiveOpeners;
  /** A restore's download of a URL or a repository's copy, which continues one cut short (see downloadToFile, stageRepositoryArchive). */
  download?: ResumableDownload;
  /**
   * Keep the archive as stored when no key given opens it (a restore's: its resume may bring the
   * key, and the restore removes the file when it ends otherwise); by default it is removed.
   */
  keepWhenNoKey?: boolean;
}

/**
 * Puts the archive on local disk: an upload is already there; a stored backup is read in place
 * when the archive store keeps files, else copied to `file` from wherever it is (BackupArchives); a URL is downloaded, and a
 * repository's copy streamed, to `file` under the restore limits. `owned` says whether the caller
 * must remove the file afterwards. An encrypted archive (age) is then decrypted to a file of its
 * own beside it (see decryptStaged), which is what the caller gets.
 */
export async function archiveOnDisk(
  source: ArchiveSource,
  file: string,
  deps: ArchiveFetchDeps & {
    /** Sees the archive as stored, before it is decrypted (a chain's base is checked against the SHA-256 its increment names); a throw fails the fetch. */
    onStaged?: (file: string) => Promise<void>;
  },
): Promise<{ file: string; owned: boolean; encrypted: boolean }> {
  const log = deps.log ?? (async () => undefined);
  const staged = await stage(source, file, deps, log);
  if (deps.onStaged) {
    await deps.onStaged(staged.file).catch(async (error: unknown) => {
      if (staged.owned) await rm(staged.file, { force: true });
      throw error;
    });
  }
  if (!(await isAgeFile(staged.file))) return { ...staged, encrypted: false };
  return { ...(await decryptStaged(staged, file, deps.config, deps.openers, log, deps.keepWhenNoKey === true)), encrypted: true };
}

/**
 * Decrypts a staged age file into `decrypted-{name of file}` beside `file`, the temporary file the
 * caller chose (mode 0600, in DATA_DIR/tmp, which start-up empties; never beside a stored backup
 * read in place), counting the encrypted and the decrypted bytes against MAX_RESTORE_BYTES, with
 * the keys the request gave and this installation's own identity; the encrypted copy, if it was
 * the caller's, goes (but when no key opens it and `keepWhenNoKey`: a restore's resume may bring one). Every chunk is authenticated before it is written, and a failure (no key,
 * a wrong key, a changed byte, a cut file) leaves no decrypted file: nothing is restored from it.
 */
async function decryptStaged(
  staged: { file: string; owned: boolean },
  file: string,
  config: AppConfig,
  openers: ArchiveOpeners | undefined,
  log: (message: string) => Promise<void>,
  keepWhenNoKey: boolean,
): Promise<{ file: string; owned: boolean }> {
  const target = join(dirname(file), `decrypted-${basename(file)}`);
  const own = openers ? ArchiveKeys.ofIdentities([await openers.installationIdentity()]) : null;
  const keys = own ? own.with(openers?.given ?? null) : (openers?.given ?? null);
  await log(`The archive is encrypted (age); decrypting it ${openers?.given ? 'with the key given' : 'with this installation’s own key'}`);
  let noKey = false;
  try {
    const { bytes } = await decryptArchiveFile(staged.file, target, keys, { maxCiphertextBytes: config.maxRestoreBytes, maxPlaintextBytes: config.maxRestoreBytes });
    await log(`Decrypted and authenticated ${bytes} bytes`);
    return { file: target, owned: true };
  } catch (error) {
    // The installation's own key was tried too: say what the request gave, or that it gave nothing.
    if (error instanceof EncryptedArchiveError && error.reason === 'wrong-key') {
      noKey = true;
      const given = openers?.given;
      if (given) throw new EncryptedArchiveError('wrong-key', wrongKeyMessage({ identity: given.identities.length > 0, passphrase: given.hasPassphrase }));
      throw new EncryptedArchiveError(
        'no-key',
        'The archive is encrypted (age), and not to this installation: give the identity (`identity`: an AGE-SECRET-KEY-1… key; the CLI’s --identity FILE) or the passphrase (`passphrase`; --passphrase-file FILE) it was encrypted to',
      );
    }
    throw error;
  } finally {
    own?.dispose();
    if (keys !== openers?.given) keys?.dispose();
    if (staged.owned && !(noKey && keepWhenNoKey)) await rm(staged.file, { force: true });
  }
}

/** What staging an archive reads from; `download`: a restore's download of a URL or a repository's copy, which continues one cut short (see downloadToFile, stageRepositoryArchive). */
interface StageDeps {
  blobs: BlobStore;
  config: AppConfig;
  repositories?: RepositoryRegistry;
  archives?: Pick<BackupArchives, 'onDisk'>;
  download?: ResumableDownload;
}

/** Puts the archive as it is, encrypted or not, on local disk (archiveOnDisk). */
async function stage(source: ArchiveSource, file: string, deps: StageDeps, log: (message: string) => Promise<void>): Promise<{ file: string; owned: boolean }> {
  switch (source.kind) {
    case 'upload':
      await log('Using the uploaded archive');
      return { file: source.file, owned: true };
    case 'staged':
      return fromBlobStore(deps.blobs, source.key, file, log, 'the uploaded archive');
    case 'backup': {
      if (!deps.archives) throw new Error('Reading a stored backup needs the backup archives');
      // A restore's download of a repository copy (the archive store lacks the backup) continues one cut short, as a repository source's does.
      const { download, repositories } = deps;
      const stageCopy = download && repositories ? (ref: RepositoryArchiveRef) => stageRepositoryArchive(repositories, ref, file, { maxBytes: deps.config.maxRestoreBytes, log, download }) : undefined;
      return deps.archives.onDisk(source.backup, file, log, stageCopy);
    }
    case 'url': {
      await log(`Downloading ${describeUrl(source.url)}`);
      const { bytes, resumedAt } = await downloadToFile(
        source.url,
        file,
        { allowedHosts: deps.config.restoreAllowedHosts, maxBytes: deps.config.maxRestoreBytes, timeoutMs: deps.config.restoreUrlTimeoutMs },
        deps.download,
      );
      await log(resumedAt > 0 ? `Downloaded ${bytes} bytes, continuing from byte ${resumedAt} where the interrupted download stopped` : `Downloaded ${bytes} bytes`);
      return { file, owned: true };
    }
    case 'repository':
      if (!deps.repositories) throw new Error('Reading a copy in a repository needs the repository registry');
      await stageRepositoryArchive(deps.repositories, source, file, { maxBytes: deps.config.maxRestoreBytes, log, download: deps.download });
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
