import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, BlobNotFoundError, type BlobStore, type ByteRange } from '../../infrastructure/blob-store/blob-store.port.js';
import { ObjectNotFoundError } from '../../infrastructure/repository-store/repository-store.port.js';
import { notFound, unavailable } from '../../platform/domain-errors.js';
import { LOCAL_REPOSITORY, RepositoryRegistry } from '../../repositories/repository-registry.port.js';
import { archiveKey, type BackupJob } from './backup-job.js';

/** A copy of a backup's archive in a repository, as the backup records it (`copies`, written by the copy step). */
export interface ArchiveCopy {
  repository: string;
  key: string;
  sizeBytes: number;
  sha256: string;
}

/** Where a backup's archive can be read: the installation's archive store, or a copy in a repository. */
export type ArchiveLocation = { in: 'archive-store'; key: string } | { in: 'repository'; repository: string; key: string };

/**
 * The one place that says where a backup's bytes are: the installation's archive store first,
 * then each copy the backup records in a repository other than `local` (which is the archive
 * store), in the order recorded. A copy counts only if it holds the very bytes the backup names
 * (same size and SHA-256), so a download's ETag, Repr-Digest and ranges mean the same wherever it
 * is served from.
 */
export function archiveLocations(job: BackupJob & { copies?: readonly ArchiveCopy[] | null }): ArchiveLocation[] {
  const copies = (job.copies ?? []).filter((copy) => copy.repository !== LOCAL_REPOSITORY && copy.sha256 === job.sha256 && copy.sizeBytes === job.sizeBytes);
  return [{ in: 'archive-store', key: archiveKey(job.id) }, ...copies.map((copy) => ({ in: 'repository' as const, repository: copy.repository, key: copy.key }))];
}

/**
 * Reads a Completed backup's archive from wherever it is (archiveLocations): downloads keep
 * working once retention has removed the local archive but a copy remains in a repository. A
 * location that does not hold it, or fails to answer, is passed over for the next.
 */
@Injectable()
export class BackupArchives {
  private readonly logger = new Logger('Backups');

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Optional until an installation can configure repositories; without one only the archive store is read.
    @Optional() private readonly repositories?: RepositoryRegistry,
  ) {}

  /** The archive's bytes, whole or a range within its size, from its first location that has them. */
  async open(job: BackupJob, range?: ByteRange): Promise<Readable> {
    const failures: string[] = [];
    for (const location of archiveLocations(job)) {
      try {
        if (location.in === 'archive-store') return await this.blobs.get(location.key, range);
        if (!this.repositories) continue;
        const { store } = await this.repositories.open(location.repository);
        return await store.get(location.key, range);
      } catch (error) {
        if (error instanceof BlobNotFoundError || error instanceof ObjectNotFoundError) continue;
        const where = location.in === 'archive-store' ? 'the archive store' : `repository "${location.repository}"`;
        this.logger.warn(`Reading the archive of backup ${job.id} from ${where} failed: ${(error as Error).message}`);
        failures.push(`${where}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) throw unavailable(`The archive of backup ${job.id} could not be read (${failures.join('; ')}); try again later`);
    throw notFound(`The archive of backup ${job.id} is no longer stored here, and no copy of it in a repository can be read`);
  }

  /**
   * With LINK_PRESIGNED_REDIRECTS, a URL the client downloads the archive from directly: a copy's
   * presigned URL, from the first repository that hands them out, valid for at most
   * LINK_PRESIGNED_TTL_SECONDS and never past `notAfter` (the link's expiry). Undefined when the
   * flag is off or no copy can be presigned; the server then streams the archive itself.
   */
  async presignedUrl(job: BackupJob, notAfter: number): Promise<string | undefined> {
    if (!this.config.linkPresignedRedirects || !this.repositories) return undefined;
    const seconds = Math.min(this.config.linkPresignedTtlSeconds, Math.floor((notAfter - Date.now()) / 1000));
    if (seconds < 1) return undefined;
    for (const location of archiveLocations(job)) {
      if (location.in !== 'repository') continue;
      try {
        const { store } = await this.repositories.open(location.repository);
        // Only a copy that is there: a presigned URL to nothing would fail where the server could still stream another.
        if (store.capabilities.presign && store.presign && (await store.head(location.key))) return await store.presign(location.key, seconds);
      } catch (error) {
        this.logger.warn(`Presigning the copy of backup ${job.id} in repository "${location.repository}" failed: ${(error as Error).message}; the server streams it instead`);
      }
    }
    return undefined;
  }
}
