import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore, type ByteRange } from '../../infrastructure/blob-store/blob-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../../infrastructure/name-index/name-index.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';
import { BackupHandlerRegistry } from '../backup-handler.registry.js';
import type { BackupSelection } from '../shared/backup-selection.js';
import { JobRegistry } from '../../jobs/job-registry.service.js';
import { archiveKey, type BackupJob, type BackupTrigger, isActive, triggerOf } from '../shared/backup-job.js';
import { BackupRunner } from './backup.runner.js';
import { queuedProgress } from '../../jobs/job-progress.js';
import type { Page } from '../../contract/paging.schemas.js';

export interface BackupRequest {
  label?: string;
  /** Who asked: the caller, or the policy's author for a scheduled backup. */
  actor: string;
  trigger?: BackupTrigger;
  /** A partial backup's selection (normalized); null or absent for the whole app. */
  include?: BackupSelection | null;
  /** `false` skips the per-app limit (a scheduled backup whose policy prunes). */
  limit?: boolean;
}

/** Progress is saved (and so streamed) at most this often, and at every change of phase. */
const PROGRESS_EVERY_MS = 500;

/**
 * Backup jobs: scheduled at once (the HTTP answer is 202), run in the background, state kept in
 * the read store so it survives restarts. One running backup per app, at most
 * MAX_BACKUPS_PER_APP manual backups stored per app (scheduled backups are bounded by their
 * policy's retention; a policy without retention rules is held to the same limit, counted over
 * scheduled backups).
 *
 * "One running backup per app" is a lease on the app's backup slot in the shared claims, held by
 * the job's id while it runs; the limit is checked under it. So both rules hold across processes,
 * and a job whose lease is gone (its process died) is marked Failed by whichever process notices.
 */
@Injectable()
export class BackupsService implements OnApplicationShutdown, OnModuleInit {
  private readonly logger = new Logger(BackupsService.name);
  readonly jobs: ReadCollection<BackupJob>;
  private readonly running = new Map<string, Promise<void>>();
  private readonly stops = new Map<string, AbortController>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    private readonly runner: BackupRunner,
    private readonly jobRegistry: JobRegistry,
    private readonly handlers: BackupHandlerRegistry,
  ) {
    this.jobs = store.collection<BackupJob>('backup_jobs', { indexes: ['appId', ['appId', 'created'], 'created', 'status'] });
  }

  onModuleInit(): void {
    this.jobRegistry.register({
      name: 'backups',
      running: () => this.running.size,
      settled: async () => {
        await Promise.allSettled(this.running.values());
      },
      abandon: (reason) => {
        for (const stop of this.stops.values()) stop.abort(new Error(reason));
      },
    });
  }

  /**
   * Schedules a backup and starts it. The per-app limit counts the backups of the same trigger, so
   * scheduled backups never block manual ones.
   */
  async schedule(app: { id: string; name: string }, request: BackupRequest): Promise<BackupJob> {
    const { label, actor, trigger = 'manual', include = null } = request;
    const options = { limit: request.limit };
    if (include) await this.checkSelection(app.id, include);
    const id = randomUUID();
    const busy = `A backup of app "${app.name}" is already running; wait for it to finish`;
    const finishing = async (holder: string) => {
      // A job that has recorded its outcome frees the slot right after: wait for it, not 409.
      const job = await this.jobs.get(holder);
      return job !== undefined && !isActive(job);
    };
    const slot = await Lease.acquire(this.names, claims.backupSlot(app.id), { ttlMs: this.config.nameReservationTtlMs, holder: id, finishing }).catch((error: unknown) => {
      throw error instanceof NameUnavailableError ? conflict(busy) : error;
    });
    let job: BackupJob;
    try {
      const existing = await this.jobs.find({ appId: app.id });
      // A job still marked active without the slot is one a dead process left; the sweep marks it Failed.
      if (existing.items.some(isActive)) throw conflict(busy);
      // A safety backup counts as manual once a later backup of the app has succeeded.
      const lastGood = existing.items.filter((other) => other.status === 'Completed' && triggerOf(other) !== 'safety').reduce((at, other) => (other.created > at ? other.created : at), '');
      const counts = (other: BackupJob) => triggerOf(other) === trigger || (trigger === 'manual' && triggerOf(other) === 'safety' && other.created < lastGood);
      const counted = existing.items.filter(counts).length;
      if (options.limit !== false && trigger !== 'safety' && counted >= this.config.maxBackupsPerApp) {
        const safety = existing.items.filter((other) => counts(other) && triggerOf(other) === 'safety').length;
        const including = safety > 0 ? ` (${safety} of them safety backups taken before rollbacks)` : '';
        throw conflict(`App "${app.name}" has ${counted} ${trigger} backups${including}, the limit is ${this.config.maxBackupsPerApp}; delete an old one first`);
      }
      const created = new Date().toISOString();
      job = {
        id,
        appId: app.id,
        appName: app.name,
        label: label ?? '',
        trigger,
        include,
        status: 'Scheduled',
        created,
        createdBy: actor,
        started: null,
        completed: null,
        eventCount: 0,
        assetCount: 0,
        userCount: 0,
        sizeBytes: 0,
        sha256: null,
        error: null,
        warnings: [],
        ...queuedProgress(),
      };
      await this.jobs.put(job);
    } catch (error) {
      await slot.release().catch(() => undefined);
      throw error;
    }
    const stop = new AbortController();
    this.stops.set(job.id, stop);
    const work = this.execute(job, AbortSignal.any([stop.signal, slot.lost]))
      .catch((error: unknown) => this.logger.error(`Backup ${id} could not record its outcome: ${String(error)}; it is marked Failed at the next start`))
      .finally(async () => {
        this.running.delete(id);
        this.stops.delete(id);
        await slot.release().catch((error: unknown) => this.logger.warn(`Could not free the backup slot of app ${app.id}: ${String(error)}; it frees itself when its lease expires`));
      });
    this.running.set(id, work);
    return job;
  }

  /** A selection that names what the app lacks is a 400 listing every problem, each naming its field. */
  async checkSelection(appId: string, include: BackupSelection): Promise<void> {
    const problems: string[] = [];
    for (const handler of this.handlers.all) problems.push(...((await handler.checkSelection?.(appId, include)) ?? []));
    if (problems.length > 0) throw invalid(problems.join('; '));
  }

  /** Resolves once the backup `id` started by this process has recorded its outcome (at once if none runs). */
  async settled(id: string): Promise<void> {
    await this.running.get(id);
  }

  /**
   * Every lease period, marks Failed the backups whose process died (their lease expired). Only
   * needed when several processes share the stores; with one process, start-up already did it.
   */
  startSweeping(): void {
    this.sweeper ??= setInterval(() => {
      void this.failAbandoned().catch((error: unknown) => this.logger.warn(`Could not check for abandoned backups: ${String(error)}`));
    }, this.config.nameReservationTtlMs);
    this.sweeper.unref();
  }

  /** Newest first. */
  list(page: Page, appId?: string): Promise<{ total: number; items: BackupJob[] }> {
    return this.jobs.find(appId ? { appId } : {}, { sort: [{ field: 'created', direction: 'desc' }], ...page });
  }

  /** A backup by id; with `appId`, only if it belongs to that app (so one app's id can't reach another's). */
  async get(id: string, appId?: string): Promise<BackupJob> {
    const job = await this.jobs.get(id);
    if (!job || (appId && job.appId !== appId)) throw notFound(`Backup ${id} does not exist`);
    return job;
  }

  /** A backup whose archive can be downloaded; 409 until it is Completed. */
  async completed(id: string, appId?: string): Promise<BackupJob> {
    const job = await this.get(id, appId);
    if (job.status !== 'Completed') throw conflict(`Backup ${id} is ${job.status}; its archive can be downloaded once it is Completed`);
    return job;
  }

  readArchive(id: string, range?: ByteRange): Promise<Readable> {
    return this.blobs.get(archiveKey(id), range);
  }

  async delete(id: string, appId?: string): Promise<void> {
    const job = await this.get(id, appId);
    if (isActive(job)) throw conflict(`Backup ${id} is ${job.status}; it can be deleted once it has finished`);
    await this.blobs.delete(archiveKey(id));
    await this.jobs.delete(id);
  }

  /**
   * A job that was Scheduled or Running when the process died can never finish: mark it Failed
   * with the reason and remove whatever part of its archive was written.
   */
  async recoverInterrupted(): Promise<number> {
    await this.blobs.removeIncomplete();
    return this.failAbandoned();
  }

  private async failAbandoned(): Promise<number> {
    let recovered = 0;
    for (const status of ['Scheduled', 'Running'] as const) {
      const { items } = await this.jobs.find({ status });
      for (const job of items) {
        if ((await this.names.lookup(claims.backupSlot(job.appId)))?.holder === job.id) continue;
        await this.blobs.delete(archiveKey(job.id));
        await this.jobs.put({
          ...job,
          status: 'Failed',
          phase: 'failed',
          etaSeconds: 0,
          completed: new Date().toISOString(),
          error: `The server stopped while this backup was ${status.toLowerCase()}; no archive was kept. Start a new backup.`,
        });
        recovered += 1;
      }
    }
    if (recovered > 0) this.logger.warn(`Marked ${recovered} interrupted backup(s) as Failed`);
    return recovered;
  }

  /** Lets running jobs finish on a graceful shutdown; a hard kill is handled by recoverInterrupted. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled(this.running.values());
  }

  private async execute(scheduled: BackupJob, signal: AbortSignal): Promise<void> {
    let job: BackupJob = { ...scheduled, status: 'Running', started: new Date().toISOString(), phase: 'events' };
    await this.jobs.put(job);
    let lastSaved = Date.now();
    try {
      const { final, ...result } = await this.runner.run(job, signal, async (progress) => {
        if (progress.phase === job.phase && Date.now() - lastSaved < PROGRESS_EVERY_MS) return;
        lastSaved = Date.now();
        job = { ...job, ...progress };
        await this.jobs.put(job);
      });
      job = { ...job, ...result, ...final, status: 'Completed', completed: new Date().toISOString() };
      this.logger.log(`Backup ${job.id} of app ${job.appName} completed: ${result.eventCount} events, ${result.assetCount} files, ${result.sizeBytes} bytes`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      job = { ...job, status: 'Failed', completed: new Date().toISOString(), error: message, phase: 'failed', etaSeconds: 0 };
      this.logger.error(`Backup ${job.id} of app ${job.appName} failed: ${message}`);
    }
    await this.jobs.put(job);
  }
}
