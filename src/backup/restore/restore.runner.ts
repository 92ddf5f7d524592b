import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { EVENT_STORE, type EventStore } from '../../infrastructure/event-store/event-store.port.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../../infrastructure/name-index/name-index.port.js';
import { quoted } from '../../platform/text/control-characters.js';
import { AppReplays, type RestoreProjection } from '../../eventsourcing/app-replays.service.js';
import { validateName } from '../../platform/text/identifier.rules.js';
import { describeSelection } from '../shared/backup-selection.js';
import { checkArchive } from '../../archive/archive-check.js';
import { ArchiveParticipants, USER_ACCOUNTS, type UserAccounts } from '../../archive/archive-participant.port.js';
import type { ArchiveContent } from '../../archive/archive-reader.js';
import { type ChainLink, openArchiveSource } from '../../archive/archive-chain.js';
import { fetchChain } from './chain-source.js';
import { ArchiveRestore, pointInTime, type RestoreCheckpoint } from '../../archive/archive-restore.js';
import { ProgressMeter } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import type { JobEnding, JobHandOffHooks, JobOutcome, JobRunner, JobSlot } from '../../jobs/job-runner.port.js';
import type { JobStore } from '../../jobs/job-store.js';
import { type DownloadValidator, PHASE_OF_STEP, RESTORE_PHASES, type RestoreJob, type RestoreJournal, type RestorePhase, type RestoreStep } from './restore-job.js';
import { RESTORE_STEPS } from '../shared/restore-steps.js';
import { InstallationSink } from './installation-sink.js';
import { BackupArchives } from '../shared/archive-locations.js';
import { BackupsService } from '../create/backups.service.js';
import { archiveOnDisk, type ArchiveSource, tempDirOf } from './archive-source.js';
import { RELEASED, RestoreCleanup } from './restore-cleanup.js';
import { JobSecrets } from '../../jobs/job-secrets.js';
import type { ArchiveKeys } from '../../archive/age-keys.js';
import { InstallationService } from '../shared/installation.service.js';
import { interruptedBy } from '../../jobs/job-interruption.js';
import { hashFile } from '../../platform/file-hash.js';
import { EncryptedArchiveError } from '../../archive/archive-decryption.js';
import { RestoreResumption, ResumeRefusedError } from './restore-resumption.js';

/** A restore as it runs. */
type RestoreRun = JobRunContext<RestoreJob, RestoreStep>;

/** One restore at a time per installation. */
const RESTORE_SLOT: JobSlot = { claim: claims.restoreSlot(), busy: 'Another restore is running; wait for it to finish (GET /api/restore)' };

/** A line in the job's log about how far it got, at most this often. */
const LOG_EVERY_MS = 5000;

/**
 * Restore jobs (see JobRunner), one at a time per installation, with a log a person can follow.
 * The pipeline: fetch the archive → verify it → reserve the name → map users → stream events
 * under a new app id (files restored on the way, each batch projected right after it is appended)
 * → finish the projections → make the restoring admin an Owner → commit the name. The checks, the
 * users and the events are ArchiveRestore's (src/archive), the loop a dry run rehearses; this
 * runner gives it the installation as its sink (InstallationSink). Any failure undoes everything
 * written for the new app (RestoreCleanup). A stop of the server (SIGTERM, or a crash found at the
 * next start) leaves it Interrupted instead: it keeps its name, archive and journal (RestoreJournal)
 * and continues from there (RestoreResumption) at the next start or on request, or is cancelled.
 * A restore projects the new app through this process's engine, so it runs in the process that
 * runs the projections.
 */
@Injectable()
export class RestoreRunner implements JobRunner<RestoreJob, RestoreStep> {
  private readonly logger = new Logger(RestoreRunner.name);
  readonly kind = 'restore';
  readonly collection = { name: 'restore_jobs', indexes: ['status', 'created', ['status', 'created']] };
  readonly withProjections = true;
  /** Its half-written app is purged before the projections catch up, which would project it. */
  readonly settleBeforeCatchUp = true;
  readonly resumable = true;
  readonly jobs: JobStore<RestoreJob>;
  readonly handOff: JobHandOffHooks<RestoreJob> = {
    renew: async (job) => job.name && job.nameToken && this.names.renew(claims.appName(job.name), job.nameToken, this.config.nameReservationTtlMs),
    notPickedUp: (seconds) =>
      `No AppVault process that runs the projections picked this restore up within ${seconds} s; check that one runs (GET /health on each process) and start the restore again`,
  };

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(USER_ACCOUNTS) private readonly accounts: UserAccounts,
    private readonly replays: AppReplays,
    private readonly writer: EventWriter,
    private readonly participants: ArchiveParticipants,
    private readonly catalog: EventCatalog,
    private readonly cleanup: RestoreCleanup,
    private readonly repositories: RepositoryRegistry,
    private readonly archives: BackupArchives,
    private readonly backups: BackupsService,
    private readonly secrets: JobSecrets,
    private readonly installation: InstallationService,
    private readonly resumption: RestoreResumption,
    private readonly processor: JobProcessor,
  ) {
    this.jobs = processor.register(this);
  }

  slot(): JobSlot {
    return RESTORE_SLOT;
  }

  describe(job: RestoreJob): string {
    return `Restore ${job.id}`;
  }

  /** `ctx.signal` stops the run at its next step or event (a shutdown); the failure then cleans up. */
  async run(ctx: RestoreRun): Promise<JobOutcome<RestoreJob>> {
    const meter = ctx.measure(new ProgressMeter<RestorePhase>(RESTORE_PHASES, 'fetching', 0));
    const job = ctx.job;
    // The key the request gave for an encrypted archive: in this process's memory only, overwritten when the job ends.
    const keys = this.secrets.take<ArchiveKeys>(job.id) ?? null;
    ctx.onEnd(async () => keys?.dispose());
    let archiveFile = job.archiveFile ?? join(tempDirOf(this.config), `restore-${job.id}.zip`);
    // A backup the archive store keeps as a file is read in place; only copies are this job's to remove.
    let ownsArchive = true;
    // Keep the name reserved from the very start (fetching and checking a big archive takes time) until the job has ended.
    const renewal = setInterval(() => {
      const { name, nameToken } = ctx.job;
      if (!name || !nameToken) return;
      this.names.renew(claims.appName(name), nameToken, this.config.nameReservationTtlMs).catch((error: unknown) => {
        void ctx.log(`Warning: could not renew the reservation of "${name}": ${(error as Error).message}`);
      });
    }, Math.max(500, Math.floor(this.config.nameReservationTtlMs / 3)));
    let released = false;
    const releaseArchive = async () => {
      if (released) return;
      released = true;
      if (ownsArchive) await rm(archiveFile, { force: true });
      if (job.stagedArchive) await this.blobs.delete(job.stagedArchive).catch((error: unknown) => this.logger.warn(`Could not remove the staged upload of restore ${job.id}: ${String(error)}`));
    };
    ctx.onEnd(async () => {
      clearInterval(renewal);
      // An Interrupted restore keeps its archive (and its decrypted copy) for its resume.
      if (ctx.job.status !== 'Interrupted') await releaseArchive();
    });
    let keepArchive = false;
    try {
      await ctx.step('fetch', { line: 'Step: fetch' });
      // A resumed restore's reservation may have lapsed while it was Interrupted: kept again (or the run fails, the name taken meanwhile).
      if (job.nameToken) {
        const nameToken = await this.resumption.keepName(job);
        if (nameToken !== job.nameToken) await ctx.save({ nameToken });
      }
      await mkdir(tempDirOf(this.config), { recursive: true });
      const source = job.archiveFile ? sourceOf(job) : job.backupId ? { kind: 'backup' as const, backup: await this.backups.get(job.backupId) } : sourceOf(job);
      const fetchDeps = {
        blobs: this.blobs,
        config: this.config,
        repositories: this.repositories,
        archives: this.archives,
        log: (message: string) => ctx.log(message),
        openers: { given: keys, installationIdentity: () => this.installation.identity() },
        download: { validator: job.download ?? undefined, onValidator: (validator: DownloadValidator) => ctx.save({ download: validator }), signal: ctx.signal },
        // A resume without the key keeps the downloaded (or uploaded) archive for one that brings it.
        keepWhenNoKey: true,
      };
      const fetched = await archiveOnDisk(source, archiveFile, fetchDeps);
      archiveFile = fetched.file;
      ownsArchive = fetched.owned;
      const encrypted = fetched.encrypted || job.encrypted === true;
      await ctx.save({ archiveFile: ownsArchive ? archiveFile : null, url: null, encrypted });
      await this.identify(ctx, archiveFile);
      // An incremental archive brings its chain: each base fetched (and checked) before anything is
      // written, from this installation's backups or beside the copy in its repository (a resumed
      // restore reads its kept archive, so the repository is named from the job).
      const origin = job.repository ? { kind: 'repository' as const, repository: job.repository.name, key: job.repository.key } : source;
      const chain = await fetchChain({ file: archiveFile, encrypted, label: job.backupId ? `backup ${job.backupId}` : 'the archive' }, origin, {
        findBackup: (id) => this.backups.jobs.get(id),
        fetch: { ...fetchDeps, download: undefined, keepWhenNoKey: false },
        tempFile: (index) => join(tempDirOf(this.config), `restore-${job.id}-base-${index}.zip`),
      });
      try {
        await this.restore(ctx, chain.links, meter, chain.encrypted);
      } finally {
        // Bases are fetched again (and checked again against their increments) by a resume.
        await chain.release();
      }
    } catch (error) {
      keepArchive = interruptedBy(ctx.signal) !== undefined || error instanceof ResumeRefusedError || (error instanceof EncryptedArchiveError && (job.resumes ?? 0) > 0);
      throw error;
    } finally {
      // The archive is read: gone before the outcome is recorded, so whoever sees the job end finds no copy of it left.
      if (!keepArchive) await releaseArchive();
    }
    meter.complete(ctx.job.restoredEvents);
    return { patch: { ...RELEASED, url: null } };
  }

  /** A failed restore leaves nothing: cleaned up, then Failed; if the cleanup fails, it stays Running for the next start to clean up. */
  async failed(ctx: RestoreRun, error: unknown): Promise<JobEnding<RestoreJob>> {
    const message = error instanceof Error ? error.message : String(error);
    const interruption = interruptedBy(ctx.signal);
    // A resume of an encrypted archive the first run had not decrypted needs its key again (it is never stored).
    const needsKey = error instanceof EncryptedArchiveError && (ctx.job.resumes ?? 0) > 0;
    if (interruption || error instanceof ResumeRefusedError || needsKey) {
      const kept = await this.resumption.keepName(ctx.job).catch((keepError: unknown) => keepError as Error);
      if (!(kept instanceof Error)) {
        const why = interruption ? `Interrupted: ${interruption.message}` : `Resume refused: ${message}`;
        await ctx.log(why);
        return {
          status: 'Interrupted',
          ...(interruption ? {} : { error: message }),
          patch: { nameToken: kept },
          line: `It keeps its name and archive; resume it (POST /api/restore/${ctx.job.id}/resume, appvault restore resume ${ctx.job.id}) or cancel it (DELETE /api/restore/${ctx.job.id}, appvault restore cancel ${ctx.job.id})`,
        };
      }
      await ctx.log(`Could not keep the name for a resume (${kept.message}); cleaning up instead`);
    }
    ctx.measured?.fail();
    await ctx.log(`Failed: ${message}`);
    try {
      await this.cleanup.remove(ctx.job, (line) => ctx.log(line));
    } catch (cleanupError) {
      this.logger.error(`Restore ${ctx.job.id} failed: ${message}`);
      this.logger.error(`Cleanup of restore ${ctx.job.id} failed: ${String(cleanupError)}; it is retried at the next start`);
      return { status: 'Running' };
    }
    return { status: 'Failed', error: message, patch: { ...RELEASED, url: null }, line: 'Cleanup finished: nothing of the new app remains and its name is free' };
  }

  failAccepted(job: RestoreJob, message: string): Promise<RestoreJob> {
    return this.cleanup.failAccepted(job, message);
  }

  /**
   * Temporary files (archives being fetched, uploads being received) are a dead process's, but for
   * those of restores that are to resume (Interrupted, or Running when the process died: settled
   * Interrupted next), whose apps stay suspended so the catch-up does not project them half-written.
   */
  async atStartUp(): Promise<void> {
    const keep = new Set<string>();
    for (const status of ['Interrupted', 'Running', 'Scheduled'] as const) {
      for (const job of (await this.jobs.find({ status })).items) {
        if (status === 'Interrupted' && !(await this.keepInterrupted(job))) continue;
        keep.add(job.id);
        if (job.archiveFile) keep.add(basename(job.archiveFile));
        if (job.appId && job.status !== 'Scheduled') this.replays.holdForRestore(job.appId);
      }
    }
    const dir = tempDirOf(this.config);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (![...keep].some((id) => name.includes(id))) await rm(join(dir, name), { recursive: true, force: true });
    }
  }

  /**
   * An Interrupted restore's name at start-up: the embedded name index drops every reservation when
   * the server starts (they were a dead process's), so it is reserved again for the restore. If the
   * name was taken meanwhile (it lapsed after INTERRUPTED_RESERVATION_MS on a shared index), the
   * restore cannot continue: it is cleaned up and Failed. Returns whether it stays Interrupted.
   */
  private async keepInterrupted(job: RestoreJob): Promise<boolean> {
    try {
      const nameToken = await this.resumption.keepName(job);
      if (nameToken !== job.nameToken) await this.jobs.put({ ...job, nameToken });
      return true;
    } catch (error) {
      if (!(error instanceof NameUnavailableError)) throw error;
      this.logger.warn(`Interrupted restore ${job.id} lost its name (${error.message}); cleaning it up`);
      await this.jobs.put(await this.cleanup.settle({ ...job, nameToken: null }));
      return false;
    }
  }

  /** A restore whose process died: Completed if it had committed its name, else Interrupted, to resume (or Failed and cleaned up if it cannot keep its name). */
  async settle(job: RestoreJob): Promise<RestoreJob> {
    const completed = await this.cleanup.completedBeforeCrash(job);
    if (completed) return completed;
    try {
      const nameToken = await this.resumption.keepName(job);
      const line = `The server stopped during this restore (at ${job.restoredEvents} of ${job.eventCount} events); it keeps its name and archive and resumes from its journal`;
      return { ...job, status: 'Interrupted', completed: new Date().toISOString(), etaSeconds: null, slotToken: null, nameToken, log: [...job.log, { at: new Date().toISOString(), message: line }].slice(-2000) };
    } catch (error) {
      this.logger.warn(`Restore ${job.id} cannot keep its name to resume (${String(error)}); cleaning it up`);
      return this.cleanup.settle(job);
    }
  }

  /** Continues the oldest Interrupted restore, unless RESUME_RESTORES_AT_STARTUP=false or it was refused a resume before (then it waits for a person). */
  async resumeAtStartUp(): Promise<void> {
    if (!this.config.resumeRestoresAtStartUp) return;
    const waiting = (await this.jobs.find({ status: 'Interrupted' }, { sort: [{ field: 'created', direction: 'asc' }] })).items.filter((job) => job.error === null);
    const first = waiting[0];
    if (!first) return;
    try {
      await this.processor.resume(this, first, 'Resumed at start-up', resumedOnce);
    } catch (error) {
      this.logger.warn(`Could not resume restore ${first.id} at start-up: ${String(error)}`);
    }
  }

  /**
   * The archive's SHA-256 and size: noted on the first run, compared on a resume, which refuses an
   * archive whose bytes changed (ResumeRefusedError: the restore stays Interrupted).
   */
  private async identify(ctx: RestoreRun, archiveFile: string): Promise<void> {
    const identity = await hashFile(archiveFile);
    const known = ctx.job.archive;
    if (!known) {
      await ctx.save({ archive: identity });
      return;
    }
    if (known.sha256 !== identity.sha256 || known.size !== identity.size) {
      throw new ResumeRefusedError(
        `The archive changed since this restore began (SHA-256 ${identity.sha256.slice(0, 16)}…, ${identity.size} bytes; it was ${known.sha256.slice(0, 16)}…, ${known.size} bytes); it cannot continue from another archive. Cancel it (DELETE /api/restore/${ctx.job.id}) and start a new restore`,
      );
    }
    await ctx.log(`The archive is the one this restore began with (SHA-256 ${identity.sha256.slice(0, 16)}…)`);
  }

  private async restore(ctx: RestoreRun, links: ChainLink[], meter: ProgressMeter<RestorePhase>, encrypted: boolean): Promise<void> {
    const job = ctx.job;
    // A journal means the first run checked this very archive (identify compared its SHA-256) and wrote part of the app.
    const journal = job.journal && job.appId ? job.journal : null;
    const step = (name: RestoreStep, message: string) => ctx.step(name, { phase: PHASE_OF_STEP[name], line: message });
    let reader: ArchiveContent | undefined;
    let restore: ArchiveRestore | undefined;
    try {
      reader = await openArchiveSource(links, { maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      const manifest = reader.manifest;
      meter.count(0, manifest.counts.events);
      await ctx.save({ eventCount: manifest.counts.events });
      const sink = new InstallationSink(this.store, this.blobs, this.writer, this.accounts, job.createdBy, journal !== null);
      restore = new ArchiveRestore({
        reader,
        catalog: this.catalog,
        participants: this.participants.all,
        sink,
        log: (message) => void ctx.log(message),
        step: (name) => step(restoreStep(name), `Step: ${name}`),
        remember: (key, value) => ctx.remember(key, value),
        signal: ctx.signal,
        encrypted,
        scratchDir: tempDirOf(this.config),
      });
      if (journal) {
        await step('verify', 'Resuming: the archive was checked in full before the interruption (same SHA-256), so its checks are not run again');
      } else {
        await step('verify', links.length > 1 ? `Checking the chain of ${links.length} archives (a full backup and its increments): links, format, entries, checksums and every event` : 'Checking the archive: format, entries, checksums and every event');
        await this.checkEntries(reader, ctx, meter, restore, job.until);
        await ctx.log(
          `Archive of app ${quoted(manifest.app.name)} from ${manifest.created}: ${manifest.counts.events} events, ${manifest.counts.assets} files, ${manifest.counts.users} users; the events, users.json and checksums of the event files check out`,
        );
        if (manifest.include) {
          await ctx.save({ include: manifest.include });
          await ctx.log(`This archive is partial: it holds ${describeSelection(manifest.include)}; references to anything else stay as plain ids`);
        }
        for (const missing of manifest.missing) await ctx.log(`Warning: the archive lacks ${missing.name} (${missing.reason}); that file version will not be downloadable`);
      }
      const until = pointInTime(manifest.counts.events, job);
      // A restore as of a time learns its exact total as it reaches that time.
      if (job.untilEvent !== null) meter.count(0, job.untilEvent);

      const name = job.name ?? manifest.app.name;
      let token = job.nameToken;
      if (!token) {
        await step('reserve', `Reserving the app name ${quoted(name)}`);
        validateName(name);
        token = await this.names.reserve(claims.appName(name), this.config.nameReservationTtlMs, job.id);
        await ctx.save({ name, nameToken: token });
      } else {
        await step('reserve', `The app name ${quoted(name)} is reserved`);
      }
      const reservation = token;

      const targetAppId = journal ? job.appId! : randomUUID();
      // Persist the new id (and an empty journal) before writing anything, so a crash from here on can be cleaned up or resumed.
      let current: RestoreJournal = journal ?? { written: { events: 0, next: { file: 1, first: 1 }, assets: 0, claimedNames: {}, position: 0 }, pending: null, projectedThrough: 0, eventsDone: false };
      if (!journal) await ctx.save({ appId: targetAppId, journal: current });

      await step('users', 'Mapping users by email');
      await restore.begin({ appId: targetAppId, name, actor: job.createdBy });

      const total = manifest.counts.events;
      let from: RestoreCheckpoint | undefined;
      let projection: RestoreProjection;
      if (journal) {
        const resumed = await this.resumption.resumePoint(targetAppId, journal);
        from = resumed.from;
        current = { ...journal, written: { ...resumed.from, position: resumed.position }, pending: null };
        await restore.resume();
        restore.counts.assets = from.assets;
        meter.count(from.events);
        await ctx.log(`Resuming after event ${from.events} of ${total}: ${from.assets} files are stored; nothing written before is written again`);
        projection = await this.replays.openRestore(targetAppId, { projectedThrough: journal.projectedThrough });
      } else {
        projection = await this.replays.openRestore(targetAppId);
      }
      await step('events', `Restoring events as app ${targetAppId}${until.description}`);
      sink.open(targetAppId, projection);
      let events = job.restoredEvents;
      if (!current.eventsDone) {
        let lastLog = Date.now();
        events = await restore.events(until.keep, {
          from,
          beforeAppend: async (checkpoint) => {
            current = { ...current, pending: checkpoint };
            await ctx.save({ journal: current });
          },
          onBatch: async (restored, checkpoint) => {
            current = { ...current, written: { ...checkpoint, position: sink.lastPosition }, pending: null, projectedThrough: projection.projectedThrough };
            meter.count(restored);
            meter.within(restored / Math.max(1, meter.snapshot().progress.total));
            // Saved with the progress: the journal moves on with each batch.
            await ctx.save({ journal: current, restoredEvents: restored, restoredAssets: restore!.counts.assets });
            if (Date.now() - lastLog > LOG_EVERY_MS) {
              lastLog = Date.now();
              await ctx.log(`events ${restored}/${total}`);
            }
          },
        });
        current = { ...current, eventsDone: true, projectedThrough: projection.projectedThrough };
      }
      meter.count(events, events);
      meter.within(1);
      await ctx.save({ restoredEvents: events, restoredAssets: restore.counts.assets, journal: current });
      await ctx.log(`events ${events}/${total}`);

      await step('rebuild', 'Finishing the projections and full-text index of the new app');
      await projection.complete();
      await restore.summarize();
      await restore.complete();

      await step('commit', `Committing the app name "${name}"`);
      await this.names.commit(claims.appName(name), reservation, targetAppId);
      await ctx.log(`Restore completed: app "${name}" with ${events} events and ${restore.counts.assets} files`);
    } finally {
      // Files still being written read from the archive, and a cleanup must not race them.
      await restore?.drain();
      reader?.close();
    }
  }

  /**
   * Checks the archive (see checkArchive), reporting how far it got. For a restore as of a time it
   * also counts the events up to that time: the exact total the progress counts against.
   */
  private async checkEntries(reader: ArchiveContent, ctx: RestoreRun, meter: ProgressMeter<RestorePhase>, restore: ArchiveRestore, until: string | null): Promise<void> {
    let lastLog = Date.now();
    const limit = until === null ? undefined : Date.parse(until);
    let kept = 0;
    let past = false;
    await checkArchive(reader, this.catalog, restore.validator, {
      scratchDir: tempDirOf(this.config),
      progressEvery: 1000,
      onProgress: (done, total) => {
        meter.within(done / Math.max(1, total));
        if (ctx.progressDue()) void ctx.progress().catch(() => undefined);
        if (Date.now() - lastLog > LOG_EVERY_MS) {
          lastLog = Date.now();
          void ctx.log(`Checked ${done}/${total} events`);
        }
      },
      onEvent: (event) => {
        if (limit === undefined || past) return;
        // The restore stops at the first event after the time, as ArchiveRestore.events does.
        if (Date.parse(event.timestamp) <= limit) kept += 1;
        else past = true;
      },
    });
    if (limit !== undefined) meter.count(0, kept);
  }
}

/** What a resume changes on the job besides its status (see RestoreJob.resumes). */
export const resumedOnce = (job: RestoreJob): Partial<RestoreJob> => ({ resumes: (job.resumes ?? 0) + 1 });

/** A step a participant announces, as the job knows its steps. */
function restoreStep(name: string): RestoreStep {
  const known = RESTORE_STEPS.find((step) => step === name);
  if (!known) throw new Error(`A participant announced the restore step "${name}", which restores do not have (RESTORE_STEPS)`);
  return known;
}

/** Where a restore's archive is, but for a stored backup (looked up when it is fetched). */
function sourceOf(job: RestoreJob): ArchiveSource {
  if (job.archiveFile) return { kind: 'upload', file: job.archiveFile };
  if (job.stagedArchive) return { kind: 'staged', key: job.stagedArchive };
  if (job.url) return { kind: 'url', url: job.url };
  if (job.repository) return { kind: 'repository', repository: job.repository.name, key: job.repository.key };
  throw new Error('The restore has no source');
}
