import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { EVENT_STORE, type EventStore } from '../../infrastructure/event-store/event-store.port.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { quoted } from '../../platform/text/control-characters.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { validateName } from '../../platform/text/identifier.rules.js';
import { describeSelection } from '../shared/backup-selection.js';
import { checkArchive } from '../../archive/archive-check.js';
import { ArchiveParticipants, USER_ACCOUNTS, type UserAccounts } from '../../archive/archive-participant.port.js';
import type { ArchiveContent } from '../../archive/archive-reader.js';
import { type ChainLink, openArchiveSource } from '../../archive/archive-chain.js';
import { fetchChain } from './chain-source.js';
import { ArchiveRestore, pointInTime } from '../../archive/archive-restore.js';
import { ProgressMeter } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import type { JobEnding, JobHandOffHooks, JobOutcome, JobRunner, JobSlot } from '../../jobs/job-runner.port.js';
import type { JobStore } from '../../jobs/job-store.js';
import { PHASE_OF_STEP, RESTORE_PHASES, type RestoreJob, type RestorePhase, type RestoreStep } from './restore-job.js';
import { RESTORE_STEPS } from '../shared/restore-steps.js';
import { InstallationSink } from './installation-sink.js';
import { BackupArchives } from '../shared/archive-locations.js';
import { BackupsService } from '../create/backups.service.js';
import { archiveOnDisk, type ArchiveSource, tempDirOf } from './archive-source.js';
import { RELEASED, RestoreCleanup } from './restore-cleanup.js';
import { JobSecrets } from '../../jobs/job-secrets.js';
import type { ArchiveKeys } from '../../archive/age-keys.js';
import { InstallationService } from '../shared/installation.service.js';

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
 * runner gives it the installation as its sink (InstallationSink). Any failure, or
 * a crash, undoes everything written for the new app (RestoreCleanup). A restore projects the new
 * app through this process's engine, so it runs in the process that runs the projections.
 */
@Injectable()
export class RestoreRunner implements JobRunner<RestoreJob, RestoreStep> {
  private readonly logger = new Logger(RestoreRunner.name);
  readonly kind = 'restore';
  readonly collection = { name: 'restore_jobs', indexes: ['status', 'created'] };
  readonly withProjections = true;
  /** Its half-written app is purged before the projections catch up, which would project it. */
  readonly settleBeforeCatchUp = true;
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
    processor: JobProcessor,
    private readonly repositories: RepositoryRegistry,
    private readonly archives: BackupArchives,
    private readonly backups: BackupsService,
    private readonly secrets: JobSecrets,
    private readonly installation: InstallationService,
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
      await releaseArchive();
    });
    try {
      await ctx.step('fetch', { line: 'Step: fetch' });
      await mkdir(tempDirOf(this.config), { recursive: true });
      const source = job.backupId ? { kind: 'backup' as const, backup: await this.backups.get(job.backupId) } : sourceOf(job);
      const fetchDeps = {
        blobs: this.blobs,
        config: this.config,
        repositories: this.repositories,
        archives: this.archives,
        log: (message: string) => ctx.log(message),
        openers: { given: keys, installationIdentity: () => this.installation.identity() },
      };
      const fetched = await archiveOnDisk(source, archiveFile, fetchDeps);
      archiveFile = fetched.file;
      ownsArchive = fetched.owned;
      await ctx.save({ archiveFile: ownsArchive ? archiveFile : null, url: null });
      // An incremental archive brings its chain: each base fetched (and checked) before anything is written.
      const chain = await fetchChain({ file: archiveFile, encrypted: fetched.encrypted, label: job.backupId ? `backup ${job.backupId}` : 'the archive' }, source, {
        findBackup: (id) => this.backups.jobs.get(id),
        fetch: fetchDeps,
        tempFile: (index) => join(tempDirOf(this.config), `restore-${job.id}-base-${index}.zip`),
      });
      try {
        await this.restore(ctx, chain.links, meter, chain.encrypted);
      } finally {
        await chain.release();
      }
    } finally {
      // The archive is read: gone before the outcome is recorded, so whoever sees the job end finds no copy of it left.
      await releaseArchive();
    }
    meter.complete(ctx.job.restoredEvents);
    return { patch: { ...RELEASED, url: null } };
  }

  /** A failed restore leaves nothing: cleaned up, then Failed; if the cleanup fails, it stays Running for the next start to clean up. */
  async failed(ctx: RestoreRun, error: unknown): Promise<JobEnding<RestoreJob>> {
    const message = error instanceof Error ? error.message : String(error);
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

  /** Temporary files (archives being fetched, uploads being received) are a dead process's. */
  async atStartUp(): Promise<void> {
    await rm(tempDirOf(this.config), { recursive: true, force: true });
  }

  settle(job: RestoreJob): Promise<RestoreJob> {
    return this.cleanup.settle(job);
  }

  private async restore(ctx: RestoreRun, links: ChainLink[], meter: ProgressMeter<RestorePhase>, encrypted: boolean): Promise<void> {
    const job = ctx.job;
    const step = (name: RestoreStep, message: string) => ctx.step(name, { phase: PHASE_OF_STEP[name], line: message });
    let reader: ArchiveContent | undefined;
    let restore: ArchiveRestore | undefined;
    try {
      await step('verify', links.length > 1 ? `Checking the chain of ${links.length} archives (a full backup and its increments): links, format, entries, checksums and every event` : 'Checking the archive: format, entries, checksums and every event');
      reader = await openArchiveSource(links, { maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      const manifest = reader.manifest;
      meter.count(0, manifest.counts.events);
      await ctx.save({ eventCount: manifest.counts.events });
      const sink = new InstallationSink(this.store, this.blobs, this.writer, this.accounts, job.createdBy);
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
      });
      await this.checkEntries(reader, ctx, meter, restore, job.until);
      await ctx.log(
        `Archive of app ${quoted(manifest.app.name)} from ${manifest.created}: ${manifest.counts.events} events, ${manifest.counts.assets} files, ${manifest.counts.users} users; the events, users.json and checksums of the event files check out`,
      );
      if (manifest.include) {
        await ctx.save({ include: manifest.include });
        await ctx.log(`This archive is partial: it holds ${describeSelection(manifest.include)}; references to anything else stay as plain ids`);
      }
      for (const missing of manifest.missing) await ctx.log(`Warning: the archive lacks ${missing.name} (${missing.reason}); that file version will not be downloadable`);
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

      const targetAppId = randomUUID();
      // Persist the new id before writing anything, so a crash from here on can be cleaned up.
      await ctx.save({ appId: targetAppId });

      await step('users', 'Mapping users by email');
      await restore.begin({ appId: targetAppId, name, actor: job.createdBy });

      await step('events', `Restoring events as app ${targetAppId}${until.description}`);
      const projection = await this.replays.openRestore(targetAppId);
      sink.open(targetAppId, projection);
      const total = manifest.counts.events;
      let lastLog = Date.now();
      const events = await restore.events(until.keep, async (restored) => {
        meter.count(restored);
        meter.within(restored / Math.max(1, meter.snapshot().progress.total));
        await ctx.progress({ restoredEvents: restored, restoredAssets: restore!.counts.assets });
        if (Date.now() - lastLog > LOG_EVERY_MS) {
          lastLog = Date.now();
          await ctx.log(`events ${restored}/${total}`);
        }
      });
      meter.count(events, events);
      meter.within(1);
      await ctx.save({ restoredEvents: events, restoredAssets: restore.counts.assets });
      await ctx.log(`events ${events}/${total}`);

      await step('rebuild', 'Finishing the projections and full-text index of the new app');
      await projection.complete();
      restore.summarize();
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
