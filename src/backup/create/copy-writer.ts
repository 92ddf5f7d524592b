import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Manifest } from '../../archive/archive-format.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import type { RepositoryPutResult, RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import { endedJob } from '../../jobs/job-record.js';
import { COPY_FORMAT, type CopyFileRef, copyArchiveKey, copyFrameKey, copyManifestKey, copyManifestText, SHARED_FILES_COPY_VERSION, WHOLE_COPY_VERSION } from '../../repositories/shared/copy-layout.js';
import { copyRefsKey, copyRefsText, removeCopyObjects, sharedFileKey, storedSharedFiles, withFilesLock } from '../../repositories/shared/copy-files.js';
import { LOCAL_REPOSITORY, RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { archiveKey, type BackupCopy, type BackupJob, isEncrypted, isPartial, targetsOf } from '../shared/backup-job.js';
import { lockFor } from '../shared/backup-copies.js';
import { InstallationService } from '../shared/installation.service.js';
import { copyRetryDecision } from './copy-retry.js';
import { planSharedFiles } from './shared-files-plan.js';

/** The archive a run has finished in the installation's own store. */
export interface FinishedArchive {
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number;
  sha256: string;
  manifest: Manifest;
}

/** An archive written to a repository, before its copy manifest: whole, or as a frame with shared files. */
interface WrittenArchive {
  size: number;
  sha256: string;
  lockedUntil?: Date;
  frame?: { key: string; sizeBytes: number; sha256: string };
  /** How it was written and checked, for the run's log. */
  how: string;
}

/** What the copy step leaves on the backup. */
export interface CopyOutcome {
  copies: BackupCopy[];
  warnings: string[];
}

/** Where a run's copies are noted before they are written (JobRunContext.remember), so a recovery finds what a killed run may have left. */
const STARTED = 'copies';

/** Where a copy can be made to stop in tests (JobFaults, kind `backup`): everything written but its copy manifest. */
export const COPY_FAULT = 'copy-manifest';

/** Shared files one copy puts at once. */
const PARALLEL_FILE_PUTS = 4;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Counts bytes on their way to a repository, for the copying phase's progress. */
class ByteCounter extends Transform {
  constructor(private readonly onBytes: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.onBytes(chunk.length);
    callback(null, chunk);
  }
}

/**
 * The copy step of a backup run: once the archive is complete in the installation's own store,
 * it is streamed from there to every other repository the backup names, all at once, each with
 * the SHA-256 it must have (so the store's copy is checked against the archive), then the copy's
 * manifest is written beside it (archive first, manifest last: a listed manifest always has its
 * archive). Each copy fails on its own: a repository that is down, throttling, full or refusing
 * fails that copy with its error, after tries with backoff where trying again can help
 * (copy-retry.ts), and the others go on. The backup completes with every copy that could be
 * made; `local` keeps the archive whenever a copy it was meant for failed, so nothing is lost.
 */
@Injectable()
export class CopyWriter {
  private readonly logger = new Logger(CopyWriter.name);

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: RepositoryRegistry,
    private readonly installation: InstallationService,
  ) {}

  /** Whether the run has copies to make beyond the installation's own store (and so a copying phase). */
  hasRemoteTargets(job: BackupJob): boolean {
    return targetsOf(job).some((name) => name !== LOCAL_REPOSITORY);
  }

  /**
   * Copies the finished archive to every repository the backup names. `progress` gets the share of
   * the bytes sent so far. Never throws for one copy's sake; a run stopped meanwhile ends its
   * copies as failed ("the server stopped"), keeping the archive locally.
   */
  async copy(ctx: JobRunContext<BackupJob, string>, archive: FinishedArchive, progress: (fraction: number) => void): Promise<CopyOutcome> {
    const job = ctx.job;
    const now = new Date().toISOString();
    const targets = targetsOf(job);
    const localCopy: BackupCopy = { repository: LOCAL_REPOSITORY, key: archiveKey(job), sizeBytes: archive.sizeBytes, sha256: archive.sha256, written: now, verified: now, lockedUntil: null, error: null };
    const remote = targets.filter((name) => name !== LOCAL_REPOSITORY);
    if (remote.length === 0) return { copies: [localCopy], warnings: [] };

    const total = Math.max(1, archive.sizeBytes * remote.length);
    let sent = 0;
    const made: BackupCopy[] = targets.includes(LOCAL_REPOSITORY) ? [localCopy] : [];
    const record = async (copy: BackupCopy) => {
      made.push(copy);
      await ctx.save({ copies: [...made] });
    };
    // The archive is complete: recorded before the first byte is copied, so a recovery after a crash completes the backup instead of failing it.
    progress(0);
    const { manifest: _manifest, ...counts } = archive;
    await ctx.save({ ...counts, copies: [...made] }, `Copying the archive to ${remote.map((name) => `"${name}"`).join(', ')}`);
    const files = await this.sharedFiles(ctx, archive);
    await Promise.all(
      remote.map(async (name) => {
        const copy = await this.copyTo(ctx, name, archive, files, (bytes) => {
          sent += bytes;
          progress(Math.min(1, sent / total));
        });
        await record(copy);
      }),
    );
    return this.settleLocal(job, targets, made, localCopy);
  }

  /**
   * The files the copies share with others of the app (shared-files-plan.ts): none for an
   * encrypted archive (its ciphertext is one stream; sharing plaintext file bytes beside it would
   * undo the encryption, see docs/security.md) or with REPOSITORY_SHARED_FILE_MIN_BYTES at 0. A plan
   * that cannot be made leaves the copies whole, with a line in the log.
   */
  private async sharedFiles(ctx: JobRunContext<BackupJob, string>, archive: FinishedArchive): Promise<CopyFileRef[]> {
    const minBytes = this.config.repositorySharedFileMinBytes;
    if (isEncrypted(ctx.job) || minBytes <= 0) return [];
    try {
      return await planSharedFiles(this.blobs, archiveKey(ctx.job), archive.sizeBytes, archive.manifest, minBytes);
    } catch (error) {
      await ctx.log(`The archive's files could not be located for sharing (${messageOf(error)}); its copies are written whole`);
      return [];
    }
  }

  /**
   * A backup whose process died: if it was copying, its archive was complete, so it completes
   * with the copies recorded, the ones under way marked failed (and their leftovers removed where
   * the repository allows), and the local archive kept unless every other copy was made.
   * Undefined when the archive was not complete (the run's usual recovery applies).
   */
  async recover(job: BackupJob): Promise<BackupJob | undefined> {
    if (job.phase !== 'copying' || !job.sha256) return undefined;
    const recorded = job.copies ?? [];
    const done = new Set(recorded.map((copy) => copy.repository));
    const warnings = [...job.warnings];
    const copies = [...recorded];
    for (const name of targetsOf(job)) {
      if (name === LOCAL_REPOSITORY || done.has(name)) continue;
      const key = copyArchiveKey(job.appName, job.id, isEncrypted(job));
      // In the background: recovery runs at start-up, which a repository that hangs must not hold up. An
      // unfinished put leaves no visible object; an archive written without its manifest is what this removes.
      if ((job.cleanup?.[STARTED] ?? []).includes(`${name}:${key}`)) void this.removeLeftovers(name, key, job);
      copies.push({ repository: name, key, sizeBytes: 0, sha256: null, written: null, verified: null, lockedUntil: null, error: 'The server stopped while this copy was being written' });
    }
    const localAt = job.completed ?? new Date().toISOString();
    const localCopy: BackupCopy = { repository: LOCAL_REPOSITORY, key: archiveKey(job), sizeBytes: job.sizeBytes, sha256: job.sha256, written: localAt, verified: localAt, lockedUntil: null, error: null };
    const outcome = await this.settleLocal(job, targetsOf(job), copies, localCopy);
    const good = outcome.copies.some((copy) => copy.written !== null);
    const settled = { ...job, copies: outcome.copies, warnings: [...warnings, ...outcome.warnings], cleanup: {} };
    if (!good) {
      await this.blobs.delete(archiveKey(job));
      return endedJob(settled, 'Failed', { error: 'The server stopped while this backup was being copied, and no copy of it was kept. Start a new backup.' });
    }
    return endedJob(settled, 'Completed', { line: 'The server stopped while this backup was being copied; it completed with the copies made before then' });
  }

  /**
   * The local archive after the copies: kept as the `local` copy when it was asked for or when a
   * copy failed (the warning says so), otherwise removed, before the backup says Completed: every
   * copy is recorded on the job by then (a recovery completes the backup from them), and whoever
   * reads the outcome finds the archive where its copies say.
   */
  private async settleLocal(job: BackupJob, targets: string[], copies: BackupCopy[], localCopy: BackupCopy): Promise<CopyOutcome> {
    const ordered = targets.map((name) => copies.find((copy) => copy.repository === name)).filter((copy): copy is BackupCopy => copy !== undefined);
    // In the order the backup named them, as the copies are, not in the order they happened to fail.
    const failed = ordered.filter((copy) => copy.repository !== LOCAL_REPOSITORY && copy.written === null);
    const warnings = failed.map((copy) => `The copy to repository "${copy.repository}" failed: ${copy.error ?? 'unknown error'}`);
    if (targets.includes(LOCAL_REPOSITORY)) return { copies: ordered, warnings };
    if (failed.length > 0) {
      const localExists = await this.blobs.exists(archiveKey(job));
      if (localExists) {
        warnings.push(`The archive is kept in this installation's own store (repository "${LOCAL_REPOSITORY}") because ${failed.length === 1 ? 'a copy' : 'copies'} it was meant for failed`);
        return { copies: [...ordered, localCopy], warnings };
      }
      return { copies: ordered, warnings };
    }
    await this.blobs.delete(archiveKey(job));
    return { copies: ordered, warnings };
  }

  /** One copy, with its tries; resolves with the copy as recorded, written or failed. */
  private async copyTo(ctx: JobRunContext<BackupJob, string>, name: string, archive: FinishedArchive, files: CopyFileRef[], onBytes: (bytes: number) => void): Promise<BackupCopy> {
    const job = ctx.job;
    const key = copyArchiveKey(job.appName, job.id, isEncrypted(job));
    const failed = (error: string): BackupCopy => ({ repository: name, key, sizeBytes: 0, sha256: null, written: null, verified: null, lockedUntil: null, error });
    let store: RepositoryStore;
    let lock: ReturnType<typeof lockFor>;
    try {
      const open = await this.registry.open(name);
      store = open.store;
      lock = lockFor(open.definition.objectLock, job.objectLock, store.capabilities.objectLock, new Date());
      await ctx.remember(STARTED, `${name}:${key}`);
    } catch (error) {
      return failed(messageOf(error));
    }
    const written = files.length > 0 ? await this.writeShared(ctx, name, store, key, archive, files, lock, onBytes) : await this.writeWhole(ctx, name, store, key, archive, lock, onBytes);
    // A frame or file that failed may follow a refs object and files already written: removed again, so nothing holds them for nobody.
    if ('error' in written) return failed(files.length > 0 ? `${written.error}${await this.removeLeftovers(name, key, job)}` : written.error);
    try {
      // The test fault hook: a copy that stops here has written everything but its manifest.
      await ctx.fault(COPY_FAULT);
    } catch (error) {
      return failed(`${messageOf(error)}${await this.removeLeftovers(name, key, job)}`);
    }
    const at = new Date().toISOString();
    const manifestPut = await this.tries(ctx, name, 'its manifest', async () => {
      const installation = await this.installation.id();
      const text = copyManifestText({
        format: COPY_FORMAT,
        version: written.frame ? SHARED_FILES_COPY_VERSION : WHOLE_COPY_VERSION,
        installation,
        backup: {
          id: job.id,
          appId: job.appId,
          appName: job.appName,
          label: job.label,
          created: job.created,
          completed: at,
          partial: isPartial(job),
          eventCount: archive.eventCount,
          assetCount: archive.assetCount,
          userCount: archive.userCount,
        },
        archive: { key, sizeBytes: written.size, sha256: written.sha256 },
        ...(written.frame ? { frame: written.frame, files } : {}),
        // An encrypted archive's manifest stays inside it: its entries are part of what encryption hides.
        ...(isEncrypted(job) ? { encrypted: true as const } : { manifest: archive.manifest }),
      });
      return store.put(copyManifestKey(key), Readable.from(text), { contentType: 'application/json', ...lock });
    });
    if ('error' in manifestPut) {
      const left = await this.removeLeftovers(name, key, job);
      return failed(`The archive was written but its manifest could not be: ${manifestPut.error}${left}`);
    }
    await ctx.log(`Copied to "${name}" (${key}), ${written.how}${written.lockedUntil ? `, locked until ${written.lockedUntil.toISOString()}` : ''}`);
    return {
      repository: name,
      key,
      sizeBytes: written.size,
      sha256: written.sha256,
      written: at,
      verified: at,
      lockedUntil: written.lockedUntil?.toISOString() ?? null,
      error: null,
    };
  }

  /** The archive as one object at its key (an encrypted archive, or one with no file large enough to share). */
  private async writeWhole(ctx: JobRunContext<BackupJob, string>, name: string, store: RepositoryStore, key: string, archive: FinishedArchive, lock: ReturnType<typeof lockFor>, onBytes: (bytes: number) => void): Promise<WrittenArchive | { error: string }> {
    const job = ctx.job;
    const put = await this.tries(ctx, name, 'the archive', async () =>
      store.put(key, await this.sourceOf(ctx, job, onBytes), { sha256: archive.sha256, sizeBytes: archive.sizeBytes, contentType: isEncrypted(job) ? 'application/octet-stream' : 'application/zip', ...lock }),
    );
    if ('error' in put) return put;
    return { size: put.size, sha256: put.sha256, lockedUntil: put.lockedUntil, how: `checked by ${put.verifiedBy}` };
  }

  /**
   * The archive as a frame and shared files (copy-files.ts): the refs object first (so no sweep
   * removes a file this copy needs, even one it finds there), then the frame, then each file the
   * app does not hold in the repository yet, or holds locked for less long than this copy. The
   * copy manifest comes last, in copyTo.
   */
  private async writeShared(
    ctx: JobRunContext<BackupJob, string>,
    name: string,
    store: RepositoryStore,
    key: string,
    archive: FinishedArchive,
    files: CopyFileRef[],
    lock: ReturnType<typeof lockFor>,
    onBytes: (bytes: number) => void,
  ): Promise<WrittenArchive | { error: string }> {
    const job = ctx.job;
    const appId = job.appId;
    const sharedBytes = files.reduce((sum, file) => sum + file.size, 0);
    const refs = await this.tries(ctx, name, 'the list of files it shares', async () =>
      withFilesLock(store, appId, () => store.put(copyRefsKey(appId, job.id), Readable.from([copyRefsText(job.id, key, files.map((file) => file.sha256))]), { contentType: 'application/json', ...lock })),
    );
    if ('error' in refs) return refs;
    let stored: Map<string, number>;
    try {
      stored = await storedSharedFiles(store, appId);
    } catch (error) {
      return { error: `Listing the files the repository holds for the app failed: ${messageOf(error)}` };
    }
    const frame = await this.tries(ctx, name, 'the archive', async () => {
      let at = 0;
      const gaps = files.map((file) => {
        const gap = { start: at, end: file.at - 1 };
        at = file.at + file.size;
        return gap;
      });
      gaps.push({ start: at, end: archive.sizeBytes - 1 });
      const blobs = this.blobs;
      const source = Readable.from(
        (async function* frameBytes() {
          for (const gap of gaps) if (gap.end >= gap.start) yield* await blobs.get(archiveKey(job), gap);
        })(),
      );
      return store.put(copyFrameKey(key), pipeline(source, this.counter(onBytes), () => undefined), { sizeBytes: archive.sizeBytes - sharedBytes, contentType: 'application/octet-stream', ...lock });
    });
    if ('error' in frame) return frame;
    // A file's lock must last at least as long as the copy's: the frame's, as the store reports it.
    const lockUntil = frame.lockedUntil ?? lock?.lockUntil;
    const lockMode = frame.lockMode ?? lock?.lockMode;
    let sent = 0;
    let kept = 0;
    let failure: { error: string } | undefined;
    const unique = [...new Map(files.map((file) => [file.sha256, file])).values()];
    const queue = [...unique];
    const putOne = async (file: CopyFileRef) => {
      const fileKey = sharedFileKey(appId, file.sha256);
      if (stored.get(file.sha256) === file.size && (await this.lockedLongEnough(store, fileKey, lockUntil))) {
        kept += 1;
        onBytes(file.size);
        return;
      }
      const put = await this.tries(ctx, name, `the shared file ${file.sha256}`, async () => {
        const source = await this.blobs.get(archiveKey(job), { start: file.at, end: file.at + file.size - 1 });
        return store.put(fileKey, pipeline(source, this.counter(onBytes), () => undefined), {
          sha256: file.sha256,
          sizeBytes: file.size,
          contentType: 'application/octet-stream',
          ...(lockUntil ? { lockUntil, ...(lockMode ? { lockMode } : {}) } : {}),
        });
      });
      if ('error' in put) failure ??= put;
      else sent += 1;
    };
    // A few at a time: most files are small, and one PUT after another would wait a round trip each.
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL_FILE_PUTS, queue.length) }, async () => {
        for (let file = queue.shift(); file && !failure; file = queue.shift()) {
          await putOne(file).catch((error: unknown) => {
            failure ??= { error: `Checking the shared file ${file?.sha256} failed: ${messageOf(error)}` };
          });
        }
      }),
    );
    if (failure) return failure;
    return {
      size: archive.sizeBytes,
      sha256: archive.sha256,
      lockedUntil: frame.lockedUntil,
      frame: { key: copyFrameKey(key), sizeBytes: frame.size, sha256: frame.sha256 },
      how: `as a frame of ${frame.size} bytes (checked by ${frame.verifiedBy}) and ${unique.length} shared files: ${sent} written, ${kept} already there`,
    };
  }

  /** Whether a file already there is locked at least until `until` (always, when the copy has no lock). */
  private async lockedLongEnough(store: RepositoryStore, key: string, until: Date | undefined): Promise<boolean> {
    if (!until || !store.capabilities.objectLock) return true;
    const info = await store.head(key);
    return Boolean(info?.lockedUntil && info.lockedUntil.getTime() >= until.getTime());
  }

  /** The local archive, counted for progress as it goes and stopped when the run is. */
  private async sourceOf(ctx: JobRunContext<BackupJob, string>, job: BackupJob, onBytes: (bytes: number) => void): Promise<Readable> {
    const source = await this.blobs.get(archiveKey(job));
    const stop = () => source.destroy(new Error('The server is stopping'));
    ctx.signal.addEventListener('abort', stop, { once: true });
    source.once('close', () => ctx.signal.removeEventListener('abort', stop));
    return pipeline(source, this.counter(onBytes), () => undefined);
  }

  /** Counts bytes for progress; a try sent again counts again, which progress caps at the whole. */
  private counter(onBytes: (bytes: number) => void): ByteCounter {
    return new ByteCounter(onBytes);
  }

  /** Runs a put, trying again after a failure that may pass (copyRetryDecision); the last error when it gives up. */
  private async tries(ctx: JobRunContext<BackupJob, string>, name: string, what: string, put: () => Promise<RepositoryPutResult>): Promise<RepositoryPutResult | { error: string }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        ctx.signal.throwIfAborted();
        return await put();
      } catch (error) {
        if (ctx.signal.aborted) return { error: `The server stopped while this copy was being written (${messageOf(error)})` };
        const decision = copyRetryDecision(error, attempt, this.config.copyRetry);
        if (!decision.retry) {
          const tried = attempt > 1 ? ` (tried ${attempt} times)` : '';
          return { error: `${messageOf(error)}${tried}` };
        }
        const line = `Writing ${what} to "${name}" failed (${messageOf(error)}); trying again in ${Math.ceil(decision.delayMs / 1000)} s (try ${attempt + 1} of ${this.config.copyRetry.attempts})`;
        this.logger.warn(`Backup ${ctx.job.id}: ${line}`);
        await ctx.log(line);
        try {
          await sleep(decision.delayMs, undefined, { signal: ctx.signal });
        } catch {
          return { error: `The server stopped while this copy waited to be tried again (${messageOf(error)})` };
        }
      }
    }
  }

  /**
   * Removes what a copy that did not complete may have left (idempotent): its manifest, archive or
   * frame, then its refs object and the shared files no other copy needs. Says what stays when the
   * repository refuses.
   */
  private async removeLeftovers(name: string, key: string, job: BackupJob): Promise<string> {
    try {
      const { store, definition } = await this.registry.open(name);
      if (definition.appendOnly || store.capabilities.appendOnly) return '; what it wrote stays there (the repository is append-only)';
      await removeCopyObjects(store, key, job.appId, job.id);
      return '';
    } catch (error) {
      this.logger.warn(`Could not remove what an unfinished copy left in "${name}" (${key}): ${messageOf(error)}`);
      return `; what it wrote stays there (${messageOf(error)})`;
    }
  }
}
