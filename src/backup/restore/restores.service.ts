import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../../infrastructure/name-index/name-index.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { validateName } from '../../apps/app.aggregate.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { JobRegistry } from '../../jobs/job-registry.service.js';
import { BackupHandlerRegistry } from '../backup-handler.registry.js';
import { isActive } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';
import { RestoreRunner } from './restore.runner.js';
import { describeUrl, RESTORE_PHASES, type RestoreJob, type RestoreLogLine, type RestorePhase } from './restore-job.js';
import { ProgressMeter, queuedProgress } from '../../jobs/job-progress.js';
import { archiveOnDisk, type ArchiveSource, requireRestoreUrl, stagedUploadKey } from './archive-source.js';
import { JobHandOff, PICKUP_POLL_MS } from '../../jobs/job-handoff.js';
import { INSTANCE_ID } from '../../platform/instance.js';
import { RestoreFaults } from './restore-faults.js';
import type { Page } from '../../contract/paging.schemas.js';

export type RestoreSource = { kind: 'backup'; backupId: string } | { kind: 'url'; url: string } | { kind: 'upload'; file: string; fileName: string };

export interface RestoreRequest {
  source: RestoreSource;
  name?: string;
  untilEvent?: number;
  until?: string;
}

const MAX_LOG_LINES = 2000;
const BUSY = 'Another restore is running; wait for it to finish (GET /api/restore)';

/**
 * Restore jobs: one at a time per installation, in the background, with a log a person can
 * follow. A failed or interrupted restore leaves nothing of the new app and frees its name.
 *
 * "One at a time" is a lease on the restore slot in the shared claims, held by the job's id and
 * renewed while it runs, so it holds across processes; a job whose lease is gone (its process
 * died) is cleaned up at start-up, or by the periodic sweep of the process that runs the
 * projections. A restore runs in that process (it projects the new app through its engine); any
 * other accepts it and hands it over (JobHandOff), an upload staged in the shared blob store.
 */
@Injectable()
export class RestoresService implements OnApplicationShutdown, OnModuleInit {
  private readonly logger = new Logger(RestoresService.name);
  readonly jobs: ReadCollection<RestoreJob>;
  private running?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private pickup?: NodeJS.Timeout;
  private stop?: AbortController;
  /** Set at module init, before any job can be requested. */
  private handOff!: JobHandOff;
  /** Jobs accepted here and waiting for the projecting process (see JobHandOff). */
  private readonly waiting = new Set<Promise<void>>();

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly backups: BackupsService,
    private readonly runner: RestoreRunner,
    private readonly replays: AppReplays,
    private readonly handlers: BackupHandlerRegistry,
    private readonly faults: RestoreFaults,
    private readonly jobRegistry: JobRegistry,
  ) {
    this.jobs = store.collection<RestoreJob>('restore_jobs', { indexes: ['status', 'created'] });
  }

  onModuleInit(): void {
    this.handOff = new JobHandOff(this.names, this.config.nameReservationTtlMs);
    this.jobRegistry.register({
      name: 'restores',
      running: () => (this.stop ? 1 : 0),
      settled: async () => {
        await this.running?.catch(() => undefined);
      },
      abandon: (reason) => this.stop?.abort(new Error(reason)),
    });
  }

  get tempDir(): string {
    return join(this.config.dataDir, 'tmp');
  }

  /** Refuses early (before an upload is read) when a restore is already running. */
  async assertIdle(): Promise<void> {
    const slot = await this.names.lookup(claims.restoreSlot());
    // A job that has recorded its outcome is about to free the slot: the restore may go ahead.
    if (slot && !(slot.holder !== undefined && (await this.hasEnded(slot.holder)))) throw conflict(BUSY);
  }

  /** Whether the job holding the slot has already ended (it frees the slot right after). */
  private async hasEnded(jobId: string): Promise<boolean> {
    const job = await this.jobs.get(jobId);
    return job !== undefined && !isActive(job);
  }

  start(request: RestoreRequest, actor: string): Promise<RestoreJob> {
    return this.create(request, actor);
  }

  /**
   * In the process that runs the projections: every lease period, cleans up restores whose process
   * died (their lease expired), and often, picks up restores other processes accepted. Only needed
   * when several processes share the stores; with one process, start-up already did the first and
   * there is nobody to accept the second.
   */
  startSweeping(): void {
    this.sweeper ??= setInterval(() => {
      if (!this.replays.projects) return;
      void this.recoverAbandoned().catch((error: unknown) => this.logger.warn(`Could not check for abandoned restores: ${String(error)}`));
    }, this.config.nameReservationTtlMs);
    this.sweeper.unref();
    this.pickup ??= setInterval(() => {
      if (!this.replays.projects || this.stop) return;
      void this.pickUp().catch((error: unknown) => this.logger.warn(`Could not look for restores handed over by other processes: ${String(error)}`));
    }, PICKUP_POLL_MS);
    this.pickup.unref();
  }

  /** Newest first. */
  list(page: Page): Promise<{ total: number; items: RestoreJob[] }> {
    return this.jobs.find({}, { sort: [{ field: 'created', direction: 'desc' }], ...page });
  }

  async get(id: string): Promise<RestoreJob> {
    const job = await this.jobs.get(id);
    if (!job) throw notFound(`Restore ${id} does not exist`);
    return job;
  }

  /**
   * At start-up: restores that were running when this process died are undone, and its temporary
   * files removed.
   */
  async recoverInterrupted(): Promise<number> {
    // Where another live process runs the projections, its sweep cleans up (it purges through its engine).
    const recovered = (await this.names.lookup(claims.projector())) ? 0 : await this.recoverAbandoned();
    await rm(this.tempDir, { recursive: true, force: true });
    return recovered;
  }

  /**
   * A restore whose process died (no live lease holds the slot for it): remove what it wrote for
   * its new app, free its name and mark it Failed.
   */
  private async recoverAbandoned(): Promise<number> {
    let recovered = 0;
    for (const status of ['Scheduled', 'Running'] as const) {
      for (const job of (await this.jobs.find({ status })).items) {
        if ((await this.names.lookup(claims.restoreSlot()))?.holder === job.id) continue;
        if (await this.finishedBeforeCrash(job)) continue;
        const lines = [...job.log, { at: new Date().toISOString(), message: 'The server stopped during this restore; removing everything it wrote' }];
        await this.cleanup(job);
        await this.jobs.put({
          ...job,
          status: 'Failed',
          phase: 'failed',
          etaSeconds: 0,
          completed: new Date().toISOString(),
          error: 'The server stopped while this restore was running; nothing of the new app was kept and its name is free again. Start the restore again.',
          log: lines,
          nameToken: null,
          archiveFile: null,
          stagedArchive: null,
          slotToken: null,
        });
        recovered += 1;
      }
    }
    if (recovered > 0) this.logger.warn(`Cleaned up ${recovered} interrupted restore(s)`);
    return recovered;
  }

  /** The name was committed to the new app just before the process died: the restore did finish. */
  private async finishedBeforeCrash(job: RestoreJob): Promise<boolean> {
    if (!job.name || !job.appId) return false;
    const entry = await this.names.lookup(claims.appName(job.name));
    if (entry?.state !== 'committed' || entry.owner !== job.appId) return false;
    const at = new Date().toISOString();
    const total = job.untilEvent ?? job.eventCount;
    const progress = { phase: 'done', progress: { done: total, total, unit: 'events' as const }, percent: 100, etaSeconds: 0 };
    await this.jobs.put({ ...job, ...progress, status: 'Completed', completed: at, nameToken: null, archiveFile: null, log: [...job.log, { at, message: 'The server stopped right after the restore committed the name; the restore is complete' }] });
    return true;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.pickup);
    this.handOff.stop();
    await this.running?.catch(() => undefined);
    await Promise.allSettled(this.waiting);
  }

  private async create(request: RestoreRequest, actor: string): Promise<RestoreJob> {
    const id = randomUUID();
    let slot: Lease | undefined;
    let accepted: RestoreJob | undefined;
    try {
      slot = await Lease.acquire(this.names, claims.restoreSlot(), { ttlMs: this.config.nameReservationTtlMs, holder: id, finishing: (holder) => this.hasEnded(holder) }).catch((error: unknown) => {
        throw error instanceof NameUnavailableError ? conflict(BUSY) : error;
      });
      if (request.untilEvent !== undefined && request.until !== undefined) throw invalid('Give either untilEvent or until, not both');
      let name = request.name ?? null;
      let source: string;
      let backupId: string | null = null;
      let url: string | null = null;
      switch (request.source.kind) {
        case 'backup': {
          const backup = await this.backups.get(request.source.backupId);
          if (!isActive(backup) && backup.status !== 'Completed') throw conflict(`Backup ${backup.id} ${backup.status === 'Failed' ? 'failed' : 'is not complete'}; restore a Completed backup`);
          if (isActive(backup)) throw conflict(`Backup ${backup.id} is still ${backup.status}; restore it once it is Completed`);
          if (request.untilEvent !== undefined && request.untilEvent > backup.eventCount) {
            throw invalid(`untilEvent is ${request.untilEvent}, but backup ${backup.id} holds ${backup.eventCount} events`);
          }
          name ??= backup.appName;
          backupId = backup.id;
          source = `backup:${backup.id}`;
          break;
        }
        case 'url': {
          requireRestoreUrl(request.source.url);
          url = request.source.url;
          source = `url:${describeUrl(url)}`;
          break;
        }
        case 'upload':
          source = `upload:${request.source.fileName}`;
          break;
      }
      let nameToken: string | null = null;
      if (name !== null) {
        validateName(name);
        nameToken = await this.names.reserve(claims.appName(name), this.config.nameReservationTtlMs, id);
      }
      const now = new Date().toISOString();
      // Runs here when this process runs the projections; otherwise it is handed to the one that does.
      const here = this.replays.projects;
      const upload = request.source.kind === 'upload' ? request.source.file : null;
      const job: RestoreJob = {
        id,
        status: 'Scheduled',
        source,
        name,
        appId: null,
        created: now,
        started: null,
        completed: null,
        eventCount: 0,
        restoredEvents: 0,
        restoredAssets: 0,
        log: [{ at: now, message: `Restore requested from ${source}${name ? ` as "${name}"` : ''}` }],
        error: null,
        createdBy: actor,
        nameToken,
        archiveFile: here ? upload : null,
        stagedArchive: !here && upload ? stagedUploadKey(id) : null,
        slotToken: null,
        backupId,
        url,
        untilEvent: request.untilEvent ?? null,
        until: request.until ?? null,
        ...queuedProgress(),
      };
      await this.jobs.put(job);
      accepted = job;
      if (here) {
        this.launch(job, slot);
        return job;
      }
      // The process that runs it may be elsewhere: the upload goes where every process can read it.
      if (upload && job.stagedArchive) {
        await this.blobs.put(job.stagedArchive, createReadStream(upload), { maxBytes: this.config.maxRestoreBytes });
        await rm(upload, { force: true });
      }
      const handed: RestoreJob = { ...job, slotToken: slot.token, log: [...job.log, { at: new Date().toISOString(), message: `Accepted by ${INSTANCE_ID}; handed to the AppVault process that runs the projections` }] };
      await this.jobs.put(handed);
      const waiting = this.awaitPickup(handed, slot);
      this.waiting.add(waiting);
      void waiting.finally(() => this.waiting.delete(waiting));
      return handed;
    } catch (error) {
      await slot?.release().catch(() => undefined);
      if (request.source.kind === 'upload') await rm(request.source.file, { force: true });
      if (accepted) await this.failAccepted(accepted, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  /** Runs the job in this process (which runs the projections) while `slot` holds its place. */
  private launch(job: RestoreJob, slot: Lease): void {
    const stop = new AbortController();
    this.stop = stop;
    // The job records its own failure; this only guards against the job store itself failing.
    this.running = this.execute(job, AbortSignal.any([stop.signal, slot.lost]))
      .catch((error: unknown) => this.logger.error(`Restore ${job.id} could not record its outcome: ${String(error)}`))
      .finally(async () => {
        if (this.stop === stop) this.stop = undefined;
        await slot.release().catch((error: unknown) => this.logger.warn(`Could not free the restore slot: ${String(error)}; it frees itself when its lease expires`));
      });
  }

  /** In the process that runs the projections: takes over a restore another process accepted, and runs it. */
  private async pickUp(): Promise<void> {
    for (const job of (await this.jobs.find({ status: 'Scheduled' })).items) {
      if (!job.slotToken) continue;
      const slot = await this.handOff.takeOver(claims.restoreSlot(), job.slotToken, job.id);
      if (!slot) continue;
      this.logger.log(`Picked up restore ${job.id}, accepted by another process`);
      const at = new Date().toISOString();
      this.launch({ ...job, slotToken: null, log: [...job.log, { at, message: `Picked up by ${INSTANCE_ID}, which runs the projections` }] }, slot);
      return;
    }
  }

  /**
   * Holds the job's slot and name until the projecting process picks the job up; if none does in
   * time, fails it and frees both.
   */
  private async awaitPickup(job: RestoreJob, slot: Lease): Promise<void> {
    try {
      const back = await this.handOff.waitForPickup(
        job.id,
        slot,
        async () => (await this.jobs.get(job.id))?.status !== 'Scheduled',
        async () => job.name && job.nameToken && this.names.renew(claims.appName(job.name), job.nameToken, this.config.nameReservationTtlMs),
      );
      if (!back) return;
      try {
        await this.failAccepted(job, `No AppVault process that runs the projections picked this restore up within ${Math.round(this.handOff.waitMs / 1000)} s; check that one runs (GET /health on each process) and start the restore again`);
      } finally {
        await back.release().catch(() => undefined);
      }
    } catch (error) {
      this.logger.error(`Restore ${job.id} accepted here could not be handed over: ${String(error)}; the sweep cleans it up once its slot expires`);
    }
  }

  /** A job accepted but never started: nothing of the app was written; frees its name and staged upload. */
  private async failAccepted(job: RestoreJob, message: string): Promise<void> {
    await this.cleanup(job);
    const at = new Date().toISOString();
    await this.jobs.put({
      ...job,
      status: 'Failed',
      phase: 'failed',
      etaSeconds: 0,
      completed: at,
      error: message,
      log: [...job.log, { at, message: `Failed: ${message}` }],
      nameToken: null,
      archiveFile: null,
      stagedArchive: null,
      slotToken: null,
    });
  }

  private async execute(initial: RestoreJob, signal: AbortSignal): Promise<void> {
    const meter = new ProgressMeter<RestorePhase>(RESTORE_PHASES, 'fetching', 0);
    let job: RestoreJob = { ...initial, status: 'Running', started: new Date().toISOString(), ...meter.snapshot() };
    let saving: Promise<unknown> = this.jobs.put(job);
    // Job updates are chained so they land in order even when progress and log lines interleave;
    // one failed write does not stop the later ones (the last state written wins).
    const save = (patch: Partial<RestoreJob>, line?: string): Promise<void> => {
      const log: RestoreLogLine[] = line ? [...job.log, { at: new Date().toISOString(), message: line }].slice(-MAX_LOG_LINES) : job.log;
      job = { ...job, ...patch, ...meter.snapshot(), log };
      const snapshot = job;
      const write = saving.catch(() => undefined).then(() => this.jobs.put(snapshot));
      saving = write;
      return write;
    };
    // A log line that cannot be written is not worth failing the restore for; state updates are.
    const report = { log: (message: string) => save({}, message).catch(() => undefined), update: (patch: Partial<RestoreJob>) => save(patch), meter };
    let archiveFile = job.archiveFile ?? join(this.tempDir, `restore-${job.id}.zip`);
    // A backup the archive store keeps as a file is read in place; only copies are this job's to remove.
    let ownsArchive = true;
    // Keep the name reserved from the very start: fetching and checking a big archive takes time.
    const renewal = setInterval(() => {
      if (!job.name || !job.nameToken) return;
      this.names.renew(claims.appName(job.name), job.nameToken, this.config.nameReservationTtlMs).catch((error: unknown) => {
        void save({}, `Warning: could not renew the reservation of "${job.name}": ${(error as Error).message}`).catch(() => undefined);
      });
    }, Math.max(500, Math.floor(this.config.nameReservationTtlMs / 3)));
    try {
      await report.log('Step: fetch');
      await this.faults.check('fetch');
      const fetched = await this.fetch(job, archiveFile, report.log);
      archiveFile = fetched.file;
      ownsArchive = fetched.owned;
      await save({ archiveFile: ownsArchive ? archiveFile : null, url: null });
      await this.runner.run(job, archiveFile, signal, {
        log: report.log,
        update: async (patch) => {
          await save(patch);
        },
        meter,
      });
      meter.complete(job.restoredEvents);
      await save({ status: 'Completed', completed: new Date().toISOString(), nameToken: null, archiveFile: null, url: null, stagedArchive: null });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      meter.fail();
      await save({}, `Failed: ${message}`).catch(() => undefined);
      this.logger.error(`Restore ${job.id} failed: ${message}`);
      let cleaned = true;
      try {
        await this.cleanup(job, (line) => save({}, line).catch(() => undefined));
      } catch (cleanupError) {
        cleaned = false;
        this.logger.error(`Cleanup of restore ${job.id} failed: ${String(cleanupError)}; it is retried at the next start`);
      }
      // A job whose cleanup failed stays Running, so the next start-up cleans it up again.
      if (cleaned) {
        await save(
          { status: 'Failed', completed: new Date().toISOString(), error: message, nameToken: null, archiveFile: null, url: null, stagedArchive: null },
          'Cleanup finished: nothing of the new app remains and its name is free',
        );
      }
    } finally {
      clearInterval(renewal);
      if (ownsArchive) await rm(archiveFile, { force: true });
      if (initial.stagedArchive) await this.blobs.delete(initial.stagedArchive).catch((error: unknown) => this.logger.warn(`Could not remove the staged upload of restore ${initial.id}: ${String(error)}`));
      await saving.catch(() => undefined);
    }
  }

  /** Puts the archive on local disk; `owned` when it is a copy this job must remove. */
  private async fetch(job: RestoreJob, file: string, log: (message: string) => Promise<void>): Promise<{ file: string; owned: boolean }> {
    await mkdir(this.tempDir, { recursive: true });
    return archiveOnDisk(sourceOf(job), file, { blobs: this.blobs, config: this.config, log });
  }

  /** Removes everything the restore may have written for its new app, then frees the name. */
  private async cleanup(job: RestoreJob, log: (message: string) => unknown = () => undefined): Promise<void> {
    const current = (await this.jobs.get(job.id)) ?? job;
    const appId = current.appId;
    if (appId) {
      for (const handler of this.handlers.all) {
        try {
          await handler.cleanupRestore?.({ targetAppId: appId, log: (m) => void log(m), remembered: (key) => current.cleanup?.[key] ?? [] });
        } catch (error) {
          this.logger.error(`Cleanup by ${handler.name} of restored app ${appId} failed: ${String(error)}`);
        }
      }
      await this.replays.purgeApp(appId);
      await log(`Removed the events and read models of app ${appId}`);
    }
    if (current.name && current.nameToken) await this.names.release(claims.appName(current.name), current.nameToken);
    if (current.archiveFile) await rm(current.archiveFile, { force: true });
    if (current.stagedArchive) await this.blobs.delete(current.stagedArchive);
  }
}

function sourceOf(job: RestoreJob): ArchiveSource {
  if (job.archiveFile) return { kind: 'upload', file: job.archiveFile };
  if (job.stagedArchive) return { kind: 'staged', key: job.stagedArchive };
  if (job.backupId) return { kind: 'backup', backupId: job.backupId };
  if (job.url) return { kind: 'url', url: job.url };
  throw new Error('The restore has no source');
}
