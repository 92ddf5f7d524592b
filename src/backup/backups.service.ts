import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../infrastructure/blob-store/blob-store.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { conflict, notFound } from '../platform/domain-errors.js';
import { JobRegistry } from '../platform/shutdown/job-registry.service.js';
import { archiveKey, type BackupJob, isActive } from './backup-job.js';
import { BackupRunner } from './backup.runner.js';

const PROGRESS_EVERY_MS = 1000;

/**
 * Backup jobs: scheduled at once (the HTTP answer is 202), run in the background, state kept in
 * the read store so it survives restarts. One running backup per app, at most
 * MAX_BACKUPS_PER_APP stored per app.
 */
@Injectable()
export class BackupsService implements OnApplicationShutdown, OnModuleInit {
  private readonly logger = new Logger(BackupsService.name);
  readonly jobs: ReadCollection<BackupJob>;
  /** Serialises the limit checks and the insert, so two POSTs cannot both pass them. */
  private scheduling: Promise<unknown> = Promise.resolve();
  private readonly running = new Map<string, Promise<void>>();
  private readonly stops = new Map<string, AbortController>();

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runner: BackupRunner,
    private readonly jobRegistry: JobRegistry,
  ) {
    this.jobs = store.collection<BackupJob>('backup_jobs', { indexes: ['appId', 'status'] });
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

  schedule(app: { id: string; name: string }, label: string | undefined, actor: string): Promise<BackupJob> {
    const run = this.scheduling.then(async () => {
      const existing = await this.jobs.find({ appId: app.id });
      if (existing.items.some(isActive)) throw conflict(`A backup of app "${app.name}" is already running; wait for it to finish`);
      if (existing.total >= this.config.maxBackupsPerApp) {
        throw conflict(`App "${app.name}" has ${existing.total} backups, the limit is ${this.config.maxBackupsPerApp}; delete an old one first`);
      }
      const created = new Date().toISOString();
      const job: BackupJob = {
        id: randomUUID(),
        appId: app.id,
        appName: app.name,
        label: label ?? '',
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
      };
      await this.jobs.put(job);
      return job;
    });
    this.scheduling = run.catch(() => undefined);
    return run.then((job) => {
      const stop = new AbortController();
      this.stops.set(job.id, stop);
      const work = this.execute(job, stop.signal)
        .catch((error: unknown) => this.logger.error(`Backup ${job.id} could not record its outcome: ${String(error)}; it is marked Failed at the next start`))
        .finally(() => {
          this.running.delete(job.id);
          this.stops.delete(job.id);
        });
      this.running.set(job.id, work);
      return job;
    });
  }

  async list(appId?: string): Promise<BackupJob[]> {
    const page = await this.jobs.find(appId ? { appId } : {}, { sort: [{ field: 'created', direction: 'desc' }] });
    return page.items;
  }

  /** A backup by id; with `appId`, only if it belongs to that app (so one app's id can't reach another's). */
  async get(id: string, appId?: string): Promise<BackupJob> {
    const job = await this.jobs.get(id);
    if (!job || (appId && job.appId !== appId)) throw notFound(`Backup ${id} does not exist`);
    return job;
  }

  async openArchive(id: string, appId?: string): Promise<{ job: BackupJob; stream: Readable }> {
    const job = await this.get(id, appId);
    if (job.status !== 'Completed') throw conflict(`Backup ${id} is ${job.status}; its archive can be downloaded once it is Completed`);
    return { job, stream: await this.blobs.get(archiveKey(id)) };
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
    let recovered = 0;
    for (const status of ['Scheduled', 'Running'] as const) {
      const { items } = await this.jobs.find({ status });
      for (const job of items) {
        await this.blobs.delete(archiveKey(job.id));
        await this.jobs.put({
          ...job,
          status: 'Failed',
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
    await Promise.allSettled(this.running.values());
  }

  private async execute(scheduled: BackupJob, signal: AbortSignal): Promise<void> {
    let job: BackupJob = { ...scheduled, status: 'Running', started: new Date().toISOString() };
    await this.jobs.put(job);
    let lastSaved = Date.now();
    try {
      const result = await this.runner.run(job, signal, async (progress) => {
        if (Date.now() - lastSaved < PROGRESS_EVERY_MS) return;
        lastSaved = Date.now();
        job = { ...job, ...progress };
        await this.jobs.put(job);
      });
      job = { ...job, ...result, status: 'Completed', completed: new Date().toISOString() };
      this.logger.log(`Backup ${job.id} of app ${job.appName} completed: ${result.eventCount} events, ${result.assetCount} files, ${result.sizeBytes} bytes`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      job = { ...job, status: 'Failed', completed: new Date().toISOString(), error: message };
      this.logger.error(`Backup ${job.id} of app ${job.appName} failed: ${message}`);
    }
    await this.jobs.put(job);
  }
}
