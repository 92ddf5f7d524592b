import { rm } from 'node:fs/promises';
import { fileSha256, type ChainLink } from '../../archive/archive-chain.js';
import type { Manifest } from '../../archive/archive-format.js';
import { ArchiveReader, InvalidArchiveError } from '../../archive/archive-reader.js';
import { DomainError } from '../../platform/domain-errors.js';
import { copyArchiveKey, parseCopyArchiveKey } from '../../repositories/shared/copy-layout.js';
import type { BackupJob } from '../shared/backup-job.js';
import { type ArchiveFetchDeps, archiveOnDisk, type ArchiveSource } from './archive-source.js';
import { locateRepositoryArchive } from './repository-source.js';

/** No chain is longer: MAX_INCREMENTAL_CHAIN is at most 1,000 increments. */
const MAX_CHAIN_LINKS = 1001;

/**
 * A chain on local disk, base first, ready for ArchiveChain.open, each link already opened (its
 * zip directory read once, here); `release` closes them and removes the copies fetched for it.
 */
export interface FetchedChain {
  links: ChainLink[];
  /** Every link came encrypted (age) and was opened with a key: only then are credentials used. */
  encrypted: boolean;
  release(): Promise<void>;
}

export interface ChainSourceDeps {
  /** A backup of this installation by id, if there is one. */
  findBackup(id: string): Promise<BackupJob | undefined>;
  /** What archiveOnDisk needs to fetch a base (and to decrypt it, with the same keys as the increment). */
  fetch: ArchiveFetchDeps;
  /** Where the `index`th base's archive may be put (never named after the id an archive gives). */
  tempFile(index: number): string;
}

/**
 * The chain of an archive already on disk (`top`): nothing more for a full archive; for an
 * incremental one, its base, that base's base and so on down to the full backup, each found among
 * this installation's backups (by the id the increment names), or, when the archive came from a
 * repository, beside it in that repository. Each base must have the SHA-256 its increment names
 * as stored, checked before it is decrypted or read. A base that is nowhere, or differs, is refused
 * by name (InvalidArchiveError) before anything is written; the other links' checks are
 * ArchiveChain.open's.
 */
export async function fetchChain(top: { file: string; encrypted: boolean; label: string }, origin: ArchiveSource, deps: ChainSourceDeps): Promise<FetchedChain> {
  const links: ChainLink[] = [{ file: top.file, storedSha256: '', label: top.label }];
  const owned: string[] = [];
  const release = async () => {
    for (const link of links) link.opened?.close();
    for (const file of owned) await rm(file, { force: true });
  };
  let encrypted = top.encrypted;
  try {
    let manifest = await openLink(links[0]!, deps.fetch.config.maxRestoreExpandedBytes);
    const seen = new Set<string>();
    while (manifest.base) {
      const base = manifest.base;
      if (seen.has(base.backupId) || links.length >= MAX_CHAIN_LINKS) throw new InvalidArchiveError(`The chain of this incremental loops or is longer than ${MAX_CHAIN_LINKS} archives (at base backup ${base.backupId})`);
      seen.add(base.backupId);
      const source = await baseSource(base.backupId, origin, deps);
      await deps.fetch.log?.(`The archive is incremental: reading its base, backup ${base.backupId}`);
      // Checked on the file as stored, before it is decrypted: an altered base is refused as altered, not as undecryptable.
      const onStaged = async (stored: string) => {
        const sha256 = await fileSha256(stored);
        if (sha256 !== base.sha256) {
          throw new InvalidArchiveError(`The base backup ${base.backupId} of this incremental has been altered: its SHA-256 differs (${sha256}, the incremental names ${base.sha256})`);
        }
      };
      const fetched = await archiveOnDisk(source, deps.tempFile(links.length), { ...deps.fetch, onStaged }).catch((error: unknown) => {
        if (error instanceof InvalidArchiveError || error instanceof DomainError) throw error;
        throw new InvalidArchiveError(`The base backup ${base.backupId} of this incremental cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      });
      if (fetched.owned) owned.push(fetched.file);
      encrypted &&= fetched.encrypted;
      const link: ChainLink = { file: fetched.file, storedSha256: base.sha256, label: `backup ${base.backupId}` };
      links.unshift(link);
      manifest = await openLink(link, deps.fetch.config.maxRestoreExpandedBytes);
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { links, encrypted, release };
}

/** Opens a link's archive (the reader checks its manifest), kept open for the restore; answers the manifest. */
async function openLink(link: ChainLink, maxExpandedBytes: number): Promise<Manifest> {
  link.opened = await ArchiveReader.open(link.file, { maxExpandedBytes });
  return link.opened.manifest;
}

/** Where a base lies: a Completed backup of this installation, else beside the increment in its repository. */
async function baseSource(baseId: string, origin: ArchiveSource, deps: ChainSourceDeps): Promise<ArchiveSource> {
  const backup = await deps.findBackup(baseId);
  if (backup?.status === 'Completed') return { kind: 'backup', backup };
  const copy = origin.kind === 'repository' ? parseCopyArchiveKey(origin.key) : undefined;
  const repositories = deps.fetch.repositories;
  if (origin.kind === 'repository' && copy && repositories) {
    for (const encrypted of [false, true]) {
      const key = copyArchiveKey(copy.appName, baseId, encrypted);
      const found = await locateRepositoryArchive(repositories, { repository: origin.repository, key }, deps.fetch.config.maxRestoreBytes).then(
        () => true,
        () => false,
      );
      if (found) return { kind: 'repository', repository: origin.repository, key };
    }
  }
  const where = origin.kind === 'repository' ? `neither among this installation's backups nor in repository "${origin.repository}"` : "not among this installation's backups";
  throw new InvalidArchiveError(`The base backup ${baseId} of this incremental is missing: it is ${where}${backup ? ` (it is ${backup.status})` : ''}; an incremental is restored only with every backup of its chain`);
}
