import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { AppRolledBack } from '../../apps/app.events.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { EVENT_STORE, type EventStore, streams, WrongExpectedVersionError } from '../../infrastructure/event-store/event-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../../infrastructure/name-index/name-index.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import type { Page } from '../../contract/paging.schemas.js';
import type { RollbackPreflight } from '../../contract/rollbacks.schemas.js';
import { TimeSlicer } from '../../platform/time-slicer.js';
import { JobRegistry } from '../../jobs/job-registry.service.js';
import { ArchiveReader, InvalidArchiveError } from '../../archive/archive-reader.js';
import { type BackupJob, isActive, isPartial } from '../shared/backup-job.js';
import { InstallationService } from '../shared/installation.service.js';
import { archiveOnDisk } from '../restore/archive-source.js';
import { describeSelection } from '../shared/backup-selection.js';
import { BackupsService } from '../create/backups.service.js';
import { queuedProgress, ProgressMeter } from '../../jobs/job-progress.js';
import { type PartialRollback, ROLLBACK_PHASES, type RollbackJob, type RollbackPhase, type RollbackTarget } from './rollback-job.js';
import { type RollbackPlan, RollbackPlanner } from './rollback-planner.js';
import { JobHandOff, PICKUP_POLL_MS } from '../../jobs/job-handoff.js';
import { INSTANCE_ID } from '../../platform/instance.js';
import { RollbackIncompleteError, RollbackStoppedError, RollbackWriter } from './rollback-writer.js';

export interface RollbackRequest {
  backupId?: string;
  untilEvent?: number;
  until?: string;
}

type App = { id: string; name: string };

/** Progress is saved (and so streamed) at most this often, and at every change of phase. */
const PROGRESS_EVERY_MS = 500;

/**
 * In-place rollbacks: the app keeps its id, name, contributors and backups, and new events by the
 * acting user bring every schema, content and asset back to the state of one of its backups (or
 * of a point in its history). Nothing is removed from the history, so a rollback can itself be
 * rolled back. In order: writes to the app are held (409), a safety backup is taken, the domain
 * modules plan their steps (RollbackPlanner), and every event is appended with an AppRolledBack
 * marker (RollbackWriter): in one transaction on SQLite, so a rollback whose process dies is
 * either wholly there or not at all; stream by stream on EventStoreDB, where a failure part-way is
 * finished by writing on, and a rollback that still cannot finish says exactly what is stored.
 */
@Injectable()
export class RollbacksService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RollbacksService.name);
  readonly jobs: ReadCollection<RollbackJob>;
  private readonly running = new Map<string, Promise<void>>();
  /** Set at module init, before any job can be requested. */
  private handOff!: JobHandOff;
  /** Jobs accepted here and waiting for the projecting process (see JobHandOff). */
  private readonly waiting = new Set<Promise<void>>();
  private sweeper?: NodeJS.Timeout;
  private pickup?: NodeJS.Timeout;
  /** Aborts when the server stops: a rollback still retrying its writes leaves them to the next start. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly installation: InstallationService,
    private readonly backups: BackupsService,
    private readonly planner: RollbackPlanner,
    private readonly writer: EventWriter,
    private readonly rollbackWriter: RollbackWriter,
    private readonly replays: AppReplays,
    private readonly jobRegistry: JobRegistry,
  ) {
    this.jobs = store.collection<RollbackJob>('rollback_jobs', { indexes: [['appId', 'created'], 'status'] });
  }

  onModuleInit(): void {
    this.handOff = new JobHandOff(this.names, this.config.nameReservationTtlMs);
    this.jobRegistry.register({
      name: 'rollbacks',
      running: () => this.running.size,
      // A rollback is short once it writes: shutdown waits for it. One still retrying writes the
      // store did not confirm stops retrying and is finished at the next start.
      settled: async () => {
        await Promise.allSettled(this.running.values());
      },
      abandon: () => this.stopping.abort(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.sweeper);
    clearInterval(this.pickup);
    this.handOff.stop();
    await Promise.allSettled([...this.running.values(), ...this.waiting]);
  }

  /**
   * In the process that runs the projections: often, picks up rollbacks other processes accepted;
   * every lease period, settles those whose process died (as start-up does). Only needed when
   * several processes share the stores.
   */
  startSweeping(): void {
    this.pickup ??= setInterval(() => {
      if (!this.replays.projects) return;
      void this.pickUp().catch((error: unknown) => this.logger.warn(`Could not look for rollbacks handed over by other processes: ${String(error)}`));
    }, PICKUP_POLL_MS);
    this.pickup.unref();
    this.sweeper ??= setInterval(() => {
      if (!this.replays.projects) return;
      void this.settleAbandoned().catch((error: unknown) => this.logger.warn(`Could not check for abandoned rollbacks: ${String(error)}`));
    }, this.config.nameReservationTtlMs);
    this.sweeper.unref();
  }

  list(appId: string, page: Page): Promise<{ total: number; items: RollbackJob[] }> {
    return this.jobs.find({ appId }, { sort: [{ field: 'created', direction: 'desc' }], ...page });
  }

  async get(appId: string, id: string): Promise<RollbackJob> {
    const job = await this.jobs.get(id);
    if (!job || job.appId !== appId) throw notFound(`Rollback ${id} does not exist`);
    return job;
  }

  /** Resolves once the rollback `id` started by this process has recorded its outcome. */
  async settled(id: string): Promise<void> {
    await this.running.get(id);
  }

  /** Every check a rollback makes and its plan, writing nothing. */
  async dryRun(app: App, request: RollbackRequest): Promise<RollbackPreflight> {
    const target = await this.resolveTarget(app, request);
    const plan = await this.planner.plan(app.id, target.position);
    return { dryRun: true, app: { id: app.id, name: app.name }, target, changes: plan.changes, counts: plan.counts, events: plan.events + 1 };
  }

  /**
   * Checks the request, takes the app's rollback slot (which also holds the app's writes in every
   * process: see EventWriter) and runs the rollback; a process that does not run the projections
   * hands it to the one that does (it projects its own events there), holding the slot meanwhile.
   */
  async start(app: App, request: RollbackRequest, actor: string): Promise<RollbackJob> {
    const target = await this.resolveTarget(app, request);
    const id = randomUUID();
    const slot = await Lease.acquire(this.names, claims.rollbackSlot(app.id), { ttlMs: this.config.nameReservationTtlMs, holder: id }).catch((error: unknown) => {
      throw error instanceof NameUnavailableError ? conflict(`A rollback of app "${app.name}" is already running; wait for it to finish`) : error;
    });
    let release: (() => void) | undefined;
    try {
      const running = (await this.backups.jobs.find({ appId: app.id })).items.find(isActive);
      if (running) throw conflict(`A backup of app "${app.name}" is running (${running.id}); roll back once it has finished`);
      const now = new Date().toISOString();
      const job: RollbackJob = {
        id,
        appId: app.id,
        appName: app.name,
        status: 'Scheduled',
        target,
        safetyBackupId: null,
        changes: null,
        counts: null,
        appendedEvents: 0,
        created: now,
        createdBy: actor,
        started: null,
        completed: null,
        error: null,
        partial: null,
        log: [{ at: now, message: `Rollback requested to ${describeTarget(target)}; writes to the app are held until it ends` }],
        ...queuedProgress(),
      };
      if (this.replays.projects) {
        release = this.holdWrites(job);
        await this.jobs.put(job);
        this.launch(job, slot, release);
        return job;
      }
      // Writes here are held by the slot, which stays claimed until the rollback ends (see EventWriter).
      const handed: RollbackJob = { ...job, slotToken: slot.token, log: [...job.log, { at: now, message: `Accepted by ${INSTANCE_ID}; handed to the AppVault process that runs the projections` }] };
      await this.jobs.put(handed);
      const waiting = this.awaitPickup(handed, slot);
      this.waiting.add(waiting);
      void waiting.finally(() => this.waiting.delete(waiting));
      return handed;
    } catch (error) {
      release?.();
      await slot.release().catch(() => undefined);
      throw error;
    }
  }

  /** Refuses writes to the app in this process until the returned function is called. */
  private holdWrites(job: RollbackJob): () => void {
    return this.writer.holdWrites(job.appId, `App "${job.appName}" is being rolled back (rollback ${job.id}); writes to it are refused until the rollback has finished. Try again in a moment.`);
  }

  /** Runs the rollback in this process (which runs the projections) while `slot` holds its place and `release` ends the hold on writes. */
  private launch(job: RollbackJob, slot: Lease, release: () => void): void {
    const work = this.execute(job, { id: job.appId, name: job.appName }, slot.lost)
      .catch((error: unknown) => this.logger.error(`Rollback ${job.id} could not record its outcome: ${String(error)}`))
      .finally(async () => {
        release();
        this.running.delete(job.id);
        await slot.release().catch((error: unknown) => this.logger.warn(`Could not free the rollback slot of app ${job.appId}: ${String(error)}`));
      });
    this.running.set(job.id, work);
  }

  /** In the process that runs the projections: takes over rollbacks other processes accepted, and runs them. */
  private async pickUp(): Promise<void> {
    for (const job of (await this.jobs.find({ status: 'Scheduled' })).items) {
      if (!job.slotToken || this.running.has(job.id)) continue;
      const slot = await this.handOff.takeOver(claims.rollbackSlot(job.appId), job.slotToken, job.id);
      if (!slot) continue;
      this.logger.log(`Picked up rollback ${job.id} of app ${job.appName}, accepted by another process`);
      const release = this.holdWrites(job);
      const at = new Date().toISOString();
      this.launch({ ...job, slotToken: null, log: [...job.log, { at, message: `Picked up by ${INSTANCE_ID}, which runs the projections` }] }, slot, release);
    }
  }

  /** Holds the job's slot until the projecting process picks it up; if none does in time, fails it (nothing was changed). */
  private async awaitPickup(job: RollbackJob, slot: Lease): Promise<void> {
    try {
      const back = await this.handOff.waitForPickup(job.id, slot, async () => (await this.jobs.get(job.id))?.status !== 'Scheduled');
      if (!back) return;
      try {
        const message = `No AppVault process that runs the projections picked this rollback up within ${Math.round(this.handOff.waitMs / 1000)} s; nothing was changed. Check that one runs (GET /health on each process) and start the rollback again.`;
        await this.jobs.put({ ...ended(job, 'Failed', message), slotToken: null });
      } finally {
        await back.release().catch(() => undefined);
      }
    } catch (error) {
      this.logger.error(`Rollback ${job.id} accepted here could not be handed over: ${String(error)}; it is settled once its slot expires`);
    }
  }

  /**
   * At start-up: a rollback whose process died is complete when its AppRolledBack marker is in the
   * app's stream. One that died while writing is finished now: planned again against the app as it
   * stands and appended, so where a store writes streams one by one (EventStoreDB) the ones already
   * written are not written twice. One that died before writing left the app as it was. A rollback
   * that was left partly applied (EventStoreDB) is finished the same way if nobody wrote to the app
   * since; either way the app's read models are rebuilt.
   */
  async recoverInterrupted(): Promise<number> {
    // Settling may finish a rollback's writes and rebuild its app: the process that runs the projections does it.
    if (!this.replays.projects) return 0;
    return this.settleAbandoned();
  }

  /** Rollbacks whose slot no live lease holds any more: their process died (see recoverInterrupted). */
  private async settleAbandoned(): Promise<number> {
    let recovered = 0;
    for (const status of ['Scheduled', 'Running'] as const) {
      for (const job of (await this.jobs.find({ status })).items) {
        if ((await this.names.lookup(claims.rollbackSlot(job.appId)))?.holder === job.id) continue;
        if (await this.markerWritten(job)) {
          // Its events were projected by the rollback itself, which may not have finished.
          await this.replays.rebuildApp(job.appId);
          await this.jobs.put(ended(job, 'Completed', 'The server stopped right after the rollback wrote its events; the rollback is complete'));
        } else if (job.phase === 'writing' && job.safetyBackupId) {
          await this.finishWriting(job, 'The server stopped while the rollback was writing');
        } else {
          await this.jobs.put({ ...ended(job, 'Failed', 'The server stopped during this rollback before it changed anything; the app is as it was. Start the rollback again.'), slotToken: null });
        }
        recovered += 1;
      }
    }
    for (const job of (await this.jobs.find({ status: 'Failed' })).items) {
      if (!job.partial || job.partial.recovery !== null || !job.safetyBackupId) continue;
      if ((await this.names.lookup(claims.rollbackSlot(job.appId)))?.holder) continue;
      const now = await this.events.countApp(job.appId, await this.events.headPosition());
      const unchanged = now === job.partial.appEvents || now === job.partial.appEvents + job.partial.uncertainEvents;
      if (await this.markerWritten(job)) {
        await this.replays.rebuildApp(job.appId);
        await this.jobs.put({ ...ended(job, 'Completed', 'The write the rollback could not confirm had stored its marker after all; the rollback is complete'), partial: { ...job.partial, recovery: 'finished' } });
      } else if (unchanged) {
        await this.finishWriting(job, 'The rollback was left partly applied and nobody wrote to the app since');
      } else {
        await this.replays.rebuildApp(job.appId);
        const message = `The app changed since this rollback was left partly applied (${now} events now, ${job.partial.appEvents} then), so it is not finished automatically; start a rollback again to bring the app to the state wanted`;
        await this.jobs.put({ ...job, partial: { ...job.partial, recovery: 'app-changed' }, log: [...job.log, { at: new Date().toISOString(), message }] });
      }
      recovered += 1;
    }
    if (recovered > 0) this.logger.warn(`Settled ${recovered} interrupted rollback(s)`);
    return recovered;
  }

  /** The writing step of a rollback that did not finish it, done again from a fresh plan. */
  private async finishWriting(job: RollbackJob, why: string): Promise<void> {
    try {
      const plan = await this.planner.plan(job.appId, job.target.position);
      const { appended } = await this.rollbackWriter.write(job, plan, job.safetyBackupId!, { stop: this.stopping.signal });
      // Streams a store wrote one by one before the crash were skipped by the follower: rebuild.
      await this.replays.rebuildApp(job.appId);
      const message = `${why}; it was finished at start-up (${appended} more events appended)`;
      await this.jobs.put({ ...ended(job, 'Completed', message), appendedEvents: job.appendedEvents + appended, ...(job.partial ? { partial: { ...job.partial, recovery: 'finished' as const } } : {}) });
    } catch (error) {
      // The server is stopping again: the job stays as it is, for the next start.
      if (error instanceof RollbackStoppedError) return;
      await this.replays.rebuildApp(job.appId).catch((rebuild: unknown) => this.logger.warn(`Could not rebuild app ${job.appId}: ${String(rebuild)}`));
      if (error instanceof RollbackIncompleteError) {
        const partial = await this.partialOf(job.appId, error, job.partial ? job.partial.appEvents + job.partial.uncertainEvents : job.progress.total);
        const message = `${why}, and finishing it at start-up stopped part-way: ${error.message}. The next start tries again if nobody writes to the app meanwhile; or start a rollback again.`;
        await this.jobs.put({ ...ended(job, 'Failed', message), appendedEvents: job.appendedEvents + error.appended, partial });
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      const partly = job.partial ? 'The rollback stays partly applied. ' : '';
      await this.jobs.put(ended(job, 'Failed', `${why}, and finishing it at start-up failed (${reason}). ${partly}Check the app and start the rollback again.`));
    }
  }

  /**
   * What a rollback left partly applied holds, with the app's event count to tell later whether
   * anyone wrote to it since: asked of the store, or, if it does not answer, the count before the
   * writes (`before`) plus what was stored and, perhaps, the unconfirmed write.
   */
  private async partialOf(appId: string, error: RollbackIncompleteError, before: number): Promise<PartialRollback> {
    try {
      return { ...error.partial, appEvents: await this.events.countApp(appId, await this.events.headPosition()), uncertainEvents: 0, recovery: null };
    } catch {
      return { ...error.partial, appEvents: before + error.appended, uncertainEvents: error.uncertainEvents, recovery: null };
    }
  }

  /**
   * Backups made before jobs recorded their position still have it in their manifest: the store
   * position the app was taken at, meaningful only in the installation (and store) that made it.
   */
  private async positionInArchive(backup: BackupJob): Promise<number> {
    const tempDir = join(this.config.dataDir, 'tmp');
    await mkdir(tempDir, { recursive: true });
    const { file, owned } = await archiveOnDisk({ kind: 'backup', backupId: backup.id }, join(tempDir, `rollback-${randomUUID()}.zip`), { blobs: this.blobs, config: this.config });
    let reader: ArchiveReader | undefined;
    try {
      reader = await ArchiveReader.open(file, { maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      const { app, source } = reader.manifest;
      if (app.id !== backup.appId || source.installationId !== (await this.installation.id()) || source.eventStore !== this.events.kind) {
        throw invalid(`Backup ${backup.id} was not taken from this app in this installation's event store; restore it under a new name instead`);
      }
      return source.position;
    } catch (error) {
      if (error instanceof InvalidArchiveError) throw invalid(`Backup ${backup.id} cannot be rolled back to: ${error.message}`);
      throw error;
    } finally {
      reader?.close();
      if (owned) await rm(file, { force: true });
    }
  }

  private async markerWritten(job: RollbackJob): Promise<boolean> {
    for await (const stored of this.events.readStream(streams.app(job.appId))) {
      if (stored.type === 'AppRolledBack' && (stored.data as AppRolledBack['data']).rollbackId === job.id) return true;
    }
    return false;
  }

  private async execute(scheduled: RollbackJob, app: App, lost: AbortSignal): Promise<void> {
    let job: RollbackJob = { ...scheduled, status: 'Running', started: new Date().toISOString() };
    // The total is the app's events as planned; a failure to count shows as a failed job, below.
    const meter = new ProgressMeter<RollbackPhase>(ROLLBACK_PHASES, 'safety-backup', 0);
    let lastSaved = 0;
    const save = async (patch: Partial<RollbackJob>, message?: string, force = false) => {
      job = { ...job, ...patch, ...meter.snapshot(), ...(message ? { log: [...job.log, { at: new Date().toISOString(), message }] } : {}) };
      if (!force && !message && Date.now() - lastSaved < PROGRESS_EVERY_MS) return;
      lastSaved = Date.now();
      await this.jobs.put(job);
    };
    let appended = false;
    try {
      meter.count(0, await this.events.countApp(app.id, await this.events.headPosition()));
      await save({}, undefined, true);
      const safety = await this.backups.schedule(app, { label: `Safety backup before rollback ${job.id}`, actor: job.createdBy, trigger: 'safety', limit: false });
      await save({ safetyBackupId: safety.id }, `Taking a safety backup of the app as it is now (${safety.id})`);
      await this.backups.settled(safety.id);
      const backup = await this.backups.get(safety.id);
      if (backup.status !== 'Completed') throw new Error(`The safety backup ${safety.id} failed (${backup.error ?? 'no reason given'}); nothing was changed`);
      lost.throwIfAborted();

      meter.enter('planning');
      await save({}, `Safety backup ${safety.id} completed (${backup.eventCount} events); working out what to change`);
      const plan = await this.planner.plan(app.id, job.target.position, async (fraction) => {
        meter.within(fraction);
        await save({});
      });
      await save({ changes: plan.changes, counts: plan.counts }, summary(plan));
      lost.throwIfAborted();

      meter.enter('writing');
      const how = this.rollbackWriter.atomic
        ? 'in one transaction'
        : `to ${plan.writes.length + 1} streams, stream by stream (EventStoreDB has no transaction across streams; a failure part-way is finished by writing on)`;
      await save({}, `Appending ${plan.events + 1} events ${how}`);
      const written = await this.rollbackWriter.write(job, plan, safety.id, {
        stop: this.stopping.signal,
        onRetry: (message) => save({}, message),
        onStored: async (count) => {
          appended = true;
          meter.enter('projecting');
          await save({ appendedEvents: count }, 'Events appended; updating the read models');
        },
      });
      meter.complete(meter.snapshot().progress.total);
      await save({ status: 'Completed', completed: new Date().toISOString() }, `Rollback complete: the app is as it was at event ${job.target.event}`, true);
      this.logger.log(`Rollback ${job.id} of app ${app.name} completed: ${written.appended} events appended`);
    } catch (error) {
      if (appended) {
        // The events are in and will be projected; only the wait for the read models gave up.
        meter.complete(meter.snapshot().progress.total);
        await save({ status: 'Completed', completed: new Date().toISOString() }, `Rollback complete; the read models are still catching up (${String(error)})`, true);
        return;
      }
      if (error instanceof RollbackStoppedError) {
        // Left Running in its writing phase: the next start finishes it (recoverInterrupted).
        await save({ appendedEvents: error.appended }, error.message, true);
        return;
      }
      meter.fail();
      if (error instanceof RollbackIncompleteError) {
        const partial = await this.partialOf(app.id, error, meter.snapshot().progress.total);
        const message = `${error.message}. The app is between its state before the rollback and the one wanted; its read models show what is stored. The next start of the server finishes the rollback if nobody writes to the app meanwhile; or start a rollback again.`;
        await save({ status: 'Failed', completed: new Date().toISOString(), error: message, etaSeconds: 0, appendedEvents: error.appended, partial }, `Rollback stopped part-way: ${message}`, true);
        this.logger.error(`Rollback ${job.id} of app ${app.name} was left partly applied: ${message}`);
        return;
      }
      // Anything else failed before a single event of the rollback was stored.
      const message =
        error instanceof WrongExpectedVersionError
          ? 'The app changed while the rollback was being planned; nothing was changed. Start the rollback again.'
          : error instanceof Error
            ? error.message
            : String(error);
      await save({ status: 'Failed', completed: new Date().toISOString(), error: message, etaSeconds: 0 }, `Rollback failed: ${message}`, true);
      this.logger.error(`Rollback ${job.id} of app ${app.name} failed: ${message}`);
    }
  }

  /** The store position of the state asked for, with every check that can fail before a job starts. */
  private async resolveTarget(app: App, request: RollbackRequest): Promise<RollbackTarget> {
    const given = [request.backupId, request.untilEvent, request.until].filter((v) => v !== undefined).length;
    if (given !== 1) throw invalid('Give exactly one of backupId, untilEvent or until: the state to bring the app back to');
    const none = { backupId: null, untilEvent: null, until: null };
    if (request.backupId !== undefined) {
      const backup = await this.backups.jobs.get(request.backupId);
      if (!backup) throw notFound(`Backup ${request.backupId} does not exist`);
      if (backup.appId !== app.id) {
        throw invalid(`Backup ${backup.id} is a backup of app "${backup.appName}", not of "${app.name}"; a rollback brings an app back to one of its own backups. Restore it under a new name instead`);
      }
      if (backup.status !== 'Completed') throw conflict(`Backup ${backup.id} is ${backup.status}; roll back to a Completed backup`);
      if (isPartial(backup)) throw invalid(`Backup ${backup.id} is partial (${describeSelection(backup.include ?? null)}); a rollback needs a backup of the whole app`);
      const position = backup.position ?? (await this.positionInArchive(backup));
      return { ...none, backupId: backup.id, position, event: await this.events.countApp(app.id, position) };
    }
    if (request.untilEvent !== undefined) {
      const total = await this.events.countApp(app.id, await this.events.headPosition());
      if (request.untilEvent > total) throw invalid(`untilEvent is ${request.untilEvent}, but app "${app.name}" has ${total} events`);
      const [event] = await this.events.readAppPage(app.id, { number: request.untilEvent - 1 }, 1);
      if (!event) throw invalid(`untilEvent: app "${app.name}" has no event ${request.untilEvent}`);
      return { ...none, untilEvent: request.untilEvent, position: event.position, event: request.untilEvent };
    }
    const until = request.until!;
    const limit = Date.parse(until);
    let last: { position: number; number: number } | undefined;
    let number = 0;
    const slicer = new TimeSlicer();
    for await (const stored of this.events.readApp(app.id)) {
      await slicer.tick();
      number += 1;
      if (Date.parse(stored.metadata.timestamp) > limit) break;
      last = { position: stored.position, number };
    }
    if (!last) throw invalid(`until: app "${app.name}" has no event at or before ${until}`);
    return { ...none, until, position: last.position, event: last.number };
  }
}

/** A job settled at start-up: its outcome, with the reason logged (and, for a failure, as its error). */
function ended(job: RollbackJob, status: 'Completed' | 'Failed', message: string): RollbackJob {
  const at = new Date().toISOString();
  const outcome = status === 'Completed' ? { phase: 'done', percent: 100, error: null } : { phase: 'failed', error: message };
  return { ...job, ...outcome, status, etaSeconds: 0, completed: at, log: [...job.log, { at, message }] };
}

function describeTarget(target: RollbackTarget): string {
  if (target.backupId) return `backup ${target.backupId} (event ${target.event})`;
  if (target.until) return `${target.until} (event ${target.event})`;
  return `event ${target.event}`;
}

function summary(plan: RollbackPlan): string {
  const { created, changed, deleted } = plan.counts;
  if (created + changed + deleted === 0) return 'Nothing to change: the app is as it was then; the rollback is recorded in its history';
  return `To bring back: ${created} created again, ${changed} changed back, ${deleted} deleted (${plan.events} events)`;
}

