import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, BlobNotFoundError, type BlobStore, type ByteRange } from '../../infrastructure/blob-store/blob-store.port.js';
import { ObjectNotFoundError, type RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';
import { notFound, unavailable } from '../../platform/domain-errors.js';
import { findStoredCopy, openStoredCopy, type StoredCopy } from '../../repositories/shared/copy-files.js';
import { LOCAL_REPOSITORY, RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { type BackupJob, copiesOf } from './backup-job.js';

/** Where a backup's archive can be read: the installation's archive store, or a copy in a repository. */
export type ArchiveLocation = { in: 'archive-store'; key: string } | { in: 'repository'; repository: string; key: string };

/**
 * The one place that says where a backup's bytes are: the installation's archive store first
 * (when the backup keeps its archive there: the `local` copy), then each copy written to another
 * repository, in the order recorded. A copy counts only if it holds the very bytes the backup names
 * (same size and SHA-256), so a download's ETag, Repr-Digest and ranges mean the same wherever it
 * is served from.
 */
export function archiveLocations(job: BackupJob): ArchiveLocation[] {
  const written = copiesOf(job).filter((copy) => copy.written !== null && (copy.sha256 ?? job.sha256) === job.sha256 && copy.sizeBytes === job.sizeBytes);
  const local = written.filter((copy) => copy.repository === LOCAL_REPOSITORY).map((copy) => ({ in: 'archive-store' as const, key: copy.key }));
  const remote = written.filter((copy) => copy.repository !== LOCAL_REPOSITORY).map((copy) => ({ in: 'repository' as const, repository: copy.repository, key: copy.key }));
  return [...local, ...remote];
}

/**
 * Puts the copy of a backup's archive at `ref` into the file onDisk was given, and answers its size
 * and SHA-256: a restore's, which continues a download cut short (stageRepositoryArchive).
 */
export type CopyStager = (ref: { repository: string; key: string }) => Promise<{ bytes: number; sha256: string }>;

/** Why bytes read back are not a backup's archive (another size or SHA-256), or undefined when they are. */
function readBackMismatch(job: BackupJob, bytes: number, sha256: string): string | undefined {
  if (bytes === job.sizeBytes && (job.sha256 === null || sha256 === job.sha256)) return undefined;
  return `The archive of backup ${job.id} read back as ${bytes} bytes with SHA-256 ${sha256}, not the ${job.sizeBytes} bytes with SHA-256 ${job.sha256} it was written as; it was changed or damaged where it is stored`;
}

/**
 * Reads a Completed backup's archive from wherever it is (archiveLocations): downloads keep
 * working once retention has removed the local archive but a copy remains in a repository. A
 * location that does not hold it, or fails to answer, is passed over for the next. A copy in a
 * repository is another store's object, which may have been replaced or cut since it was written:
 * it is served only while its size (and the SHA-256 stored with it, where the store keeps one)
 * is the backup's, so the answer's Content-Length, ETag and Repr-Digest stay true.
 */
@Injectable()
export class BackupArchives {
  private readonly logger = new Logger('Backups');

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repositories: RepositoryRegistry,
  ) {}

  /** The archive's bytes, whole or a range within its size, from its first location that has them. */
  async open(job: BackupJob, range?: ByteRange): Promise<Readable> {
    const failures: string[] = [];
    for (const location of archiveLocations(job)) {
      try {
        if (location.in === 'archive-store') return await this.blobs.get(location.key, range);
        const { store } = await this.repositories.open(location.repository);
        const copy = await this.holdsArchive(store, location, job);
        if (!copy) continue;
        return await openStoredCopy(store, location.key, copy, range);
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
   * The archive as a file a restore, dry run or rollback can read: in place when the archive store
   * keeps it as a file, else streamed once to `file` from its first readable location and checked
   * against the backup's size and SHA-256 on the way (a copy in a repository is another store's
   * bytes). `owned` says whether the caller removes the file afterwards; a failed copy is removed here.
   * With `stageCopy` (a restore's), a first location in a repository is read by it instead, so a
   * download cut short continues where it stopped; the bytes are checked against the backup's all the same.
   */
  async onDisk(job: BackupJob, file: string, log: (message: string) => Promise<void>, stageCopy?: CopyStager): Promise<{ file: string; owned: boolean }> {
    const [first] = archiveLocations(job);
    if (first?.in === 'archive-store') {
      const inPlace = await this.blobs.localFile?.(first.key);
      if (inPlace) {
        await log(`Reading backup ${job.id} in place from the archive store`);
        return { file: inPlace, owned: false };
      }
    }
    await log(first?.in === 'repository' ? `Copying backup ${job.id} from its copy in repository "${first.repository}"` : `Copying backup ${job.id} from the archive store`);
    if (first?.in === 'repository' && stageCopy) {
      // The stager keeps what it wrote when it is stopped (a restore's resume continues it), so only bytes that are not the backup's are removed here.
      const read = await stageCopy({ repository: first.repository, key: first.key });
      const mismatch = readBackMismatch(job, read.bytes, read.sha256);
      if (mismatch) {
        await rm(file, { force: true });
        throw new Error(mismatch);
      }
      return { file, owned: true };
    }
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        await this.open(job),
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            bytes += chunk.length;
            hash.update(chunk);
            done(null, chunk);
          },
        }),
        createWriteStream(file, { mode: 0o600 }),
      );
      const mismatch = readBackMismatch(job, bytes, hash.digest('hex'));
      if (mismatch) throw new Error(mismatch);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    return { file, owned: true };
  }

  /**
   * With LINK_PRESIGNED_REDIRECTS, a URL the client downloads the archive from directly: a copy's
   * presigned URL, from the first repository that hands them out, valid for at most
   * LINK_PRESIGNED_TTL_SECONDS and never past `notAfter` (the link's expiry). Undefined when the
   * flag is off or no copy can be presigned; the server then streams the archive itself.
   */
  async presignedUrl(job: BackupJob, notAfter: number): Promise<string | undefined> {
    if (!this.config.linkPresignedRedirects) return undefined;
    const seconds = Math.min(this.config.linkPresignedTtlSeconds, Math.floor((notAfter - Date.now()) / 1000));
    if (seconds < 1) return undefined;
    for (const location of archiveLocations(job)) {
      if (location.in !== 'repository') continue;
      try {
        const { store } = await this.repositories.open(location.repository);
        // Only a copy that is there, as one object: a presigned URL to nothing (or to a frame) would fail where the server could still stream it.
        if (!store.capabilities.presign || !store.presign) continue;
        const copy = await this.holdsArchive(store, location, job);
        if (copy && !copy.shared) return await store.presign(location.key, seconds);
      } catch (error) {
        this.logger.warn(`Presigning the copy of backup ${job.id} in repository "${location.repository}" failed: ${(error as Error).message}; the server streams it instead`);
      }
    }
    return undefined;
  }

  /**
   * The copy when it is there and is the backup's archive as far as the store (or, for a copy with
   * shared files, its manifest) can tell without reading it; undefined otherwise.
   */
  private async holdsArchive(store: RepositoryStore, location: ArchiveLocation & { in: 'repository' }, job: BackupJob): Promise<StoredCopy | undefined> {
    const copy = await findStoredCopy(store, location.key);
    if (!copy) return undefined;
    if (copy.sizeBytes === job.sizeBytes && (copy.sha256 === undefined || job.sha256 === null || copy.sha256 === job.sha256)) return copy;
    const found = copy.sizeBytes !== job.sizeBytes ? `${copy.sizeBytes} bytes, not ${job.sizeBytes}` : `SHA-256 ${copy.sha256}, not ${job.sha256}`;
    this.logger.warn(`The copy of backup ${job.id} in repository "${location.repository}" (${location.key}) is not its archive (${found}): it was changed or replaced; passed over`);
    return undefined;
  }
}
