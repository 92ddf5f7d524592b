import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hashFile } from '../../platform/file-hash.js';
import { archiveChanged, type DownloadValidator } from './restore-job.js';
import { ResumeRefusedError } from './restore-resumption.js';
import type { ResumableDownload } from './url-fetcher.js';
import { BlobMeter } from '../../infrastructure/blob-store/blob-meter.transform.js';
import { BlobTooLargeError } from '../../infrastructure/blob-store/blob-store.port.js';
import { ObjectNotFoundError, RepositoryStoreError } from '../../infrastructure/repository-store/repository-store.port.js';
import { DomainError, invalid, notFound, unavailable } from '../../platform/domain-errors.js';
import { quoted } from '../../platform/text/control-characters.js';
import { findStoredCopy, openStoredCopy, type StoredCopy } from '../../repositories/shared/copy-files.js';
import { copyManifestKey, parseCopyArchiveKey } from '../../repositories/shared/copy-layout.js';
import { checkCopyManifest, readCopyManifestText } from '../../repositories/shared/copy-manifest-reader.js';
import { type OpenRepository, type RepositoryRegistry, UnknownRepositoryError } from '../../repositories/shared/repository-registry.port.js';

/** A restore source in a backup repository: the repository's name and the key of a copy's archive there. */
export interface RepositoryArchiveRef {
  repository: string;
  key: string;
}

/** Reading a copy from its repository failed (cut off, too large, not the bytes its copy manifest names); the message says which. */
export class RepositoryReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepositoryReadError';
  }
}

/** How a source is shown in a restore's `source` and log: `repository:NAME/KEY`. */
export const describeRepositorySource = (ref: RepositoryArchiveRef) => `repository:${ref.repository}/${ref.key}`;

const where = (ref: RepositoryArchiveRef) => `${quoted(ref.key, 200)} in repository ${quoted(ref.repository)}`;

/**
 * Checks a `{ repository, key }` source before a restore (or its dry run) is accepted: the key is
 * a copy's archive in the copy layout (anything else, hostile or not, is refused before the
 * repository is asked), the repository is configured, and the archive is there within the restore
 * limit. Answers with the archive's size.
 */
export async function locateRepositoryArchive(registry: RepositoryRegistry, ref: RepositoryArchiveRef, maxBytes: number): Promise<{ sizeBytes: number }> {
  if (!parseCopyArchiveKey(ref.key)) {
    throw invalid(
      `The key ${quoted(ref.key, 200)} is not a backup copy's archive: copies lie at appvault/{app name}/{backup id}.zip, or .zip.age when encrypted (GET /api/repositories/{id}/backups lists those of a repository)`,
    );
  }
  let repository: OpenRepository;
  try {
    repository = await openRepository(registry, ref.repository);
  } catch (error) {
    if (error instanceof UnknownRepositoryError) throw invalid(error.message);
    throw error;
  }
  let copy: StoredCopy | undefined;
  try {
    copy = await findStoredCopy(repository.store, ref.key);
  } catch (error) {
    throw unavailable(`Could not look up ${where(ref)} (${repository.definition.location}): ${errorText(error)}`);
  }
  if (!copy) throw notFound(`There is no backup copy at ${where(ref)}; GET /api/repositories/{id}/backups lists the copies it holds`);
  if (copy.sizeBytes > maxBytes) throw invalid(`The archive at ${where(ref)} is ${copy.sizeBytes} bytes, more than the ${maxBytes} a restore accepts (MAX_RESTORE_BYTES)`);
  return { sizeBytes: copy.sizeBytes };
}

/**
 * Streams a copy's archive from its repository to `file`, the one local copy a restore reads
 * (the zip reader needs random access, and a restore reads the archive twice: checks, then
 * events; see docs/architecture.md). The bytes are counted against the restore limit and hashed
 * on the way; when the copy manifest beside the archive names a SHA-256, the bytes must have it.
 *
 * With `download` (a restore's), the copy's validator (the store's ETag, else its modification
 * time, and its size) is handed to `onValidator` before the first byte is written, and a
 * download cut short (`validator` known, part of `file` there) continues from the bytes it has:
 * a range read, conditional on the ETag where the store keeps ETags; a copy that changed since is
 * refused (ResumeRefusedError), and the whole file is hashed once complete. When `signal` stops
 * it, what was written is kept; on any other failure the partial file is removed and the error
 * says what broke. Answers the file's size and SHA-256 (a stored backup's copy is checked against
 * the backup's: BackupArchives.onDisk).
 */
export async function stageRepositoryArchive(
  registry: RepositoryRegistry,
  ref: RepositoryArchiveRef,
  file: string,
  options: { maxBytes: number; log: (message: string) => Promise<void>; download?: ResumableDownload },
): Promise<{ bytes: number; sha256: string; resumedAt: number }> {
  const repository = await openRepository(registry, ref.repository);
  const { store, definition } = repository;
  const expected = await expectedSha256(repository, ref);
  await options.log(
    `Reading ${where(ref)} (${definition.location})${expected ? '; its copy manifest gives its SHA-256' : '; no copy manifest beside it, so the archive’s own checksums are all there is to check'}`,
  );
  const { download = {} } = options;
  const known = download.validator ?? null;
  const have = known ? await stat(file).then((s) => s.size, () => 0) : 0;
  const meter = new BlobMeter(ref.key, options.maxBytes - have);
  try {
    // A copy with shared files is put back together from its frame and files, each file checked (copy-files.ts).
    const copy = await findStoredCopy(store, ref.key);
    if (!copy) throw new ObjectNotFoundError(ref.key, definition.location);
    const validator: DownloadValidator = { etag: copy.info.etag ?? null, lastModified: copy.info.lastModified.toISOString(), size: copy.sizeBytes };
    if (known && archiveChanged(known, validator)) {
      throw new ResumeRefusedError(
        `The archive at ${where(ref)} changed since this restore began reading it (${describeValidator(validator)}, was ${describeValidator(known)}); a restore cannot continue from another archive`,
      );
    }
    if (!known) await download.onValidator?.(validator);
    if (have > copy.sizeBytes) throw new ResumeRefusedError(`The interrupted download of ${where(ref)} holds ${have} bytes, more than the copy's ${copy.sizeBytes}; cancel this restore and start a new one`);
    if (have > 0) await options.log(`Continuing the interrupted download of ${where(ref)} from byte ${have} of ${copy.sizeBytes}`);
    const source =
      have === copy.sizeBytes ? Readable.from([]) : await openStoredCopy(store, ref.key, copy, have > 0 ? { start: have } : undefined, copy.info.etag && have > 0 ? { ifMatch: copy.info.etag } : {});
    await pipeline(source, meter, createWriteStream(file, { mode: 0o600, flags: have > 0 ? 'a' : 'w' }), { signal: download.signal });
  } catch (error) {
    if (download.signal?.aborted) throw download.signal.reason;
    if (error instanceof ResumeRefusedError) throw error;
    await rm(file, { force: true });
    if (error instanceof RepositoryStoreError && error.reason === 'changed') {
      throw new ResumeRefusedError(`The archive at ${where(ref)} changed since this restore began reading it (another ETag); a restore cannot continue from another archive`);
    }
    if (error instanceof BlobTooLargeError) throw new RepositoryReadError(`The archive at ${where(ref)} is larger than the ${options.maxBytes} bytes a restore accepts (MAX_RESTORE_BYTES)`);
    if (error instanceof ObjectNotFoundError) throw new RepositoryReadError(`There is no longer a backup copy at ${where(ref)}`);
    const read = have + meter.result().size;
    throw new RepositoryReadError(`Reading ${where(ref)} (${definition.location}) failed after ${read} bytes: ${errorText(error)}`, { cause: error });
  }
  // A continued download hashed only its rest on the way: the whole file is hashed once now.
  const { size, sha256 } = have > 0 ? await hashFile(file) : meter.result();
  if (expected && sha256 !== expected) {
    await rm(file, { force: true });
    throw new RepositoryReadError(`The archive at ${where(ref)} is not the one its copy manifest names (SHA-256 ${sha256}, expected ${expected}); the copy is damaged or was replaced`);
  }
  await options.log(`Read ${size} bytes${have > 0 ? `, continuing from byte ${have} where the interrupted download stopped` : ''}${expected ? ', SHA-256 as in the copy manifest' : ''}`);
  return { bytes: size, sha256, resumedAt: have };
}

const describeValidator = (v: DownloadValidator) => `${v.etag ? `ETag ${quoted(v.etag, 80)}, ` : ''}modified ${v.lastModified ?? '?'}, ${v.size ?? '?'} bytes`;

async function openRepository(registry: RepositoryRegistry, name: string): Promise<OpenRepository> {
  return registry.open(name);
}

/**
 * The SHA-256 the copy manifest beside the archive names, if there is a manifest (a copy written by
 * AppVault has one; a folder filled by hand may not). A manifest that is there must pass the same
 * checks as in a listing: a restore never trusts a damaged or misplaced one.
 */
async function expectedSha256({ store, definition }: OpenRepository, ref: RepositoryArchiveRef): Promise<string | undefined> {
  const key = copyManifestKey(ref.key);
  let text: string;
  try {
    text = await readCopyManifestText(store, key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw new RepositoryReadError(`Reading the copy manifest ${quoted(key, 200)} from repository ${quoted(ref.repository)} (${definition.location}) failed: ${errorText(error)}`, { cause: error });
  }
  const checked = checkCopyManifest(text, key);
  if ('error' in checked) throw new RepositoryReadError(`${checked.error} (${quoted(key, 200)} in repository ${quoted(ref.repository)}); the copy is damaged or not AppVault's`);
  if (checked.manifest.archive.key !== ref.key) {
    throw new RepositoryReadError(`The copy manifest ${quoted(key, 200)} in repository ${quoted(ref.repository)} describes ${quoted(checked.manifest.archive.key, 200)}, not ${quoted(ref.key, 200)}`);
  }
  return checked.manifest.archive.sha256;
}

/** A store's or stream's error in a line (a store's own errors already speak to the operator). */
function errorText(error: unknown): string {
  if (error instanceof RepositoryStoreError || error instanceof DomainError) return error.message;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
