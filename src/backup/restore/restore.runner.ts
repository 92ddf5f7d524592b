import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { RepositoryRegistry } from '../../repositories/repository-registry.port.js';
import { EVENT_STORE, type EventStore, type StoredEvent, type StreamWrite } from '../../infrastructure/event-store/event-store.port.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { SYSTEM_ACTOR } from '../../platform/auth/principal.js';
import { quoted } from '../../platform/text/control-characters.js';
import { AppReplays, type RestoreProjection } from '../../eventsourcing/app-replays.service.js';
import { validateName } from '../../apps/app.aggregate.js';
import type { ArchivedEvent, RestoreContext } from '../backup-handler.port.js';
import { describeSelection } from '../shared/backup-selection.js';
import { BackupHandlerRegistry } from '../backup-handler.registry.js';
import { checkArchive } from '../../archive/archive-check.js';
import { ArchiveReader, InvalidArchiveError } from '../../archive/archive-reader.js';
import { ProgressMeter } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import type { JobEnding, JobHandOffHooks, JobOutcome, JobRunner, JobSlot } from '../../jobs/job-runner.port.js';
import type { JobStore } from '../../jobs/job-store.js';
import { restoredEvent } from './restore-event.js';
import { RestoreValidator } from './restore-validator.js';
import { PHASE_OF_STEP, RESTORE_PHASES, type RestoreJob, type RestorePhase, type RestoreStep } from './restore-job.js';
import { archiveOnDisk, type ArchiveSource, tempDirOf } from './archive-source.js';
import { RELEASED, RestoreCleanup } from './restore-cleanup.js';

/** A restore as it runs. */
type RestoreRun = JobRunContext<RestoreJob, RestoreStep>;

/** One restore at a time per installation. */
const RESTORE_SLOT: JobSlot = { claim: claims.restoreSlot(), busy: 'Another restore is running; wait for it to finish (GET /api/restore)' };

/** A line in the job's log about how far it got, at most this often. */
const LOG_EVERY_MS = 5000;
const APPEND_BATCH = 500;
/** Deferred handler work (file restores) running at once; each holds an open entry and a file. */
const DEFERRED_IN_FLIGHT = 8;

/**
 * Restore jobs (see JobRunner), one at a time per installation, with a log a person can follow.
 * The pipeline: fetch the archive → verify it → reserve the name → map users → stream events
 * under a new app id (files restored on the way, each batch projected right after it is appended)
 * → finish the projections → make the restoring admin an Owner → commit the name. Any failure, or
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
    private readonly replays: AppReplays,
    private readonly handlers: BackupHandlerRegistry,
    private readonly catalog: EventCatalog,
    private readonly cleanup: RestoreCleanup,
    processor: JobProcessor,
    // Optional until an installation can configure repositories; without one every repository name is unknown.
    @Optional() private readonly repositories?: RepositoryRegistry,
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
    ctx.onEnd(async () => {
      clearInterval(renewal);
      if (ownsArchive) await rm(archiveFile, { force: true });
      if (job.stagedArchive) await this.blobs.delete(job.stagedArchive).catch((error: unknown) => this.logger.warn(`Could not remove the staged upload of restore ${job.id}: ${String(error)}`));
    });
    await ctx.step('fetch', { line: 'Step: fetch' });
    await mkdir(tempDirOf(this.config), { recursive: true });
    const fetched = await archiveOnDisk(sourceOf(job), archiveFile, { blobs: this.blobs, config: this.config, repositories: this.repositories, log: (message) => ctx.log(message) });
    archiveFile = fetched.file;
    ownsArchive = fetched.owned;
    await ctx.save({ archiveFile: ownsArchive ? archiveFile : null, url: null });
    await this.restore(ctx, archiveFile, meter);
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

  private async restore(ctx: RestoreRun, archiveFile: string, meter: ProgressMeter<RestorePhase>): Promise<void> {
    const job = ctx.job;
    const step = (name: RestoreStep, message: string) => ctx.step(name, { phase: PHASE_OF_STEP[name], line: message });
    let reader: ArchiveReader | undefined;
    const deferred = new DeferredWork(DEFERRED_IN_FLIGHT);
    try {
      await step('verify', 'Checking the archive: format, entries, checksums and every event');
      reader = await ArchiveReader.open(archiveFile, { maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      const manifest = reader.manifest;
      meter.count(0, manifest.counts.events);
      await ctx.save({ eventCount: manifest.counts.events });
      const validator = new RestoreValidator(this.catalog, this.store, manifest.app.id);
      await this.checkEntries(reader, ctx, meter, validator, job.until);
      await ctx.log(
        `Archive of app ${quoted(manifest.app.name)} from ${manifest.created}: ${manifest.counts.events} events, ${manifest.counts.assets} files, ${manifest.counts.users} users; the events, users.json and checksums of the event files check out`,
      );
      if (manifest.include) {
        await ctx.save({ include: manifest.include });
        await ctx.log(`This archive is partial: it holds ${describeSelection(manifest.include)}; references to anything else stay as plain ids`);
      }
      for (const missing of manifest.missing) await ctx.log(`Warning: the archive lacks ${missing.name} (${missing.reason}); that file version will not be downloadable`);
      const until = this.pointInTime(job, manifest.counts.events);
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
      const userMap = new Map<string, string>();
      const archivedUsers = new Set<string>();
      const archive = reader;
      const context: RestoreContext = {
        sourceAppId: manifest.app.id,
        targetAppId,
        targetName: name,
        actor: job.createdBy,
        openEntry: (entry) => archive.open(entry),
        hasEntry: (entry) => archive.has(entry),
        mapUser: (userId) => (userId === SYSTEM_ACTOR ? SYSTEM_ACTOR : (userMap.get(userId) ?? SYSTEM_ACTOR)),
        setUserMapping: (from, to) => {
          userMap.set(from, to);
          archivedUsers.add(from);
        },
        isArchivedUser: (userId) => archivedUsers.has(userId),
        log: (message) => void ctx.log(message),
        step: (s) => step(s, `Step: ${s}`),
        defer: (work) => deferred.start(work),
        remember: (key, value) => ctx.remember(key, value),
        counts: { assets: 0 },
      };

      await step('users', 'Mapping users by email');
      for (const handler of this.handlers.all) await handler.prepareRestore?.(context);

      await step('events', `Restoring events as app ${targetAppId}${until.description}`);
      validator.forTarget(targetAppId, new Set(userMap.values()));
      const projection = await this.replays.openRestore(targetAppId);
      const restored = await this.restoreEvents(archive, context, until.keep, manifest.counts.events, ctx, meter, projection, deferred, validator);

      await step('rebuild', 'Finishing the projections and full-text index of the new app');
      await projection.complete();
      for (const handler of this.handlers.all) await handler.summarizeRestore?.(context);
      for (const handler of this.handlers.all) await handler.completeRestore?.(context);

      await step('commit', `Committing the app name "${name}"`);
      await this.names.commit(claims.appName(name), reservation, targetAppId);
      await ctx.log(`Restore completed: app "${name}" with ${restored.events} events and ${context.counts.assets} files`);
    } finally {
      // Files still being written read from the archive, and a cleanup must not race them.
      await deferred.drain();
      reader?.close();
    }
  }

  /**
   * Reads every event file and users.json once (checksums, structure, numbering, counts, each
   * event's type and data against the catalog) and collects the entries the events name; then every asset file in the archive must be named by
   * an event (it is refused before it is ever inflated otherwise), and every named one must be in
   * the archive or listed as missing, which lists nothing else.
   */
  /**
   * Checks the archive (see checkArchive), reporting how far it got. For a restore as of a time it
   * also counts the events up to that time: the exact total the progress counts against.
   */
  private async checkEntries(reader: ArchiveReader, ctx: RestoreRun, meter: ProgressMeter<RestorePhase>, validator: RestoreValidator, until: string | null): Promise<void> {
    let lastLog = Date.now();
    const limit = until === null ? undefined : Date.parse(until);
    let kept = 0;
    let past = false;
    await checkArchive(reader, validator, {
      entriesFor: (event) => this.handlers.all.flatMap((handler) => handler.entriesFor?.(event) ?? []),
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
        // The restore stops at the first event after the time, as restoreEvents does.
        if (Date.parse(event.timestamp) <= limit) kept += 1;
        else past = true;
      },
    });
    if (limit !== undefined) meter.count(0, kept);
  }

  private pointInTime(job: RestoreJob, total: number): { keep: (event: ArchivedEvent) => boolean; description: string } {
    if (job.untilEvent !== null) {
      if (job.untilEvent > total) throw new InvalidArchiveError(`untilEvent is ${job.untilEvent}, but the archive holds only ${total} events`);
      const until = job.untilEvent;
      return { keep: (e) => e.number <= until, description: `, up to event ${until} of ${total}` };
    }
    if (job.until !== null) {
      const limit = Date.parse(job.until);
      return { keep: (e) => Date.parse(e.timestamp) <= limit, description: `, as of ${job.until}` };
    }
    return { keep: () => true, description: '' };
  }

  private async restoreEvents(
    reader: ArchiveReader,
    context: RestoreContext,
    keep: (event: ArchivedEvent) => boolean,
    total: number,
    ctx: RestoreRun,
    meter: ProgressMeter<RestorePhase>,
    projection: RestoreProjection,
    deferred: DeferredWork,
    validator: RestoreValidator,
  ): Promise<{ events: number; lastPosition: number }> {
    // Events are appended in bounded batches spanning streams: one commit per batch, in order.
    let pending: StreamWrite[] = [];
    let pendingCount = 0;
    let events = 0;
    let lastPosition = 0;
    let lastLog = Date.now();

    const flush = async () => {
      if (pendingCount === 0) return;
      // Every file the batch's events name is in place before the events are.
      await deferred.settle();
      lastPosition = (await this.store.appendMany(pending)).position;
      // Projected from what was just appended, never read back from the store.
      await projection.project(asStored(pending, lastPosition));
      events += pendingCount;
      pending = [];
      pendingCount = 0;
      meter.count(events);
      meter.within(events / Math.max(1, meter.snapshot().progress.total));
      await ctx.progress({ restoredEvents: events, restoredAssets: context.counts.assets });
      if (Date.now() - lastLog > LOG_EVERY_MS) {
        lastLog = Date.now();
        await ctx.log(`events ${events}/${total}`);
      }
    };

    for await (const archived of reader.events()) {
      ctx.signal.throwIfAborted();
      if (!keep(archived)) break;
      const { stream, streamVersion, event } = await restoredEvent(archived, context, { validator, handlers: this.handlers.all, catalog: this.catalog });
      if (pendingCount >= APPEND_BATCH) await flush();
      let write = pending.at(-1);
      if (write?.stream !== stream) {
        write = { stream, expectedVersion: streamVersion - 1, events: [] };
        pending.push(write);
      }
      pendingCount += 1;
      write.events.push(event);
    }
    await flush();
    if (events === 0) throw new InvalidArchiveError('No event is left to restore at that point in time');
    meter.count(events, events);
    meter.within(1);
    await ctx.save({ restoredEvents: events, restoredAssets: context.counts.assets });
    await ctx.log(`events ${events}/${total}`);
    return { events, lastPosition };
  }
}

/** Handler work that runs alongside the event stream, a few at a time; `settle` waits for all of it. */
class DeferredWork {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly limit: number) {}

  async start(work: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const run: Promise<void> = work()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
    this.throwIfFailed();
  }

  /** Waits for whatever still runs, its outcome aside (the restore has failed or finished). */
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * The appended events as the store now holds them. Positions are the batch's last one for every
 * event: projections never read positions, and the restore's projection keeps no checkpoint.
 */
function asStored(writes: readonly StreamWrite[], position: number): StoredEvent[] {
  return writes.flatMap((write) => {
    const first = (write.expectedVersion === 'any' ? -1 : write.expectedVersion) + 1;
    return write.events.map((event, i) => ({ ...event, stream: write.stream, streamVersion: first + i, position }));
  });
}

function sourceOf(job: RestoreJob): ArchiveSource {
  if (job.archiveFile) return { kind: 'upload', file: job.archiveFile };
  if (job.stagedArchive) return { kind: 'staged', key: job.stagedArchive };
  if (job.backupId) return { kind: 'backup', backupId: job.backupId };
  if (job.url) return { kind: 'url', url: job.url };
  if (job.repository) return { kind: 'repository', repository: job.repository.name, key: job.repository.key };
  throw new Error('The restore has no source');
}
