import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { EVENT_STORE, type EventStore } from '../../infrastructure/event-store/event-store.port.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';
import { TimeSlicer } from '../../platform/time-slicer.js';
import { queuedProgress } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobStore } from '../../jobs/job-store.js';
import { ArchiveReader, InvalidArchiveError } from '../../archive/archive-reader.js';
import { type BackupJob, chainProblem, isActive, isPartial } from '../shared/backup-job.js';
import { describeSelection } from '../shared/backup-selection.js';
import { InstallationService } from '../shared/installation.service.js';
import { archiveOnDisk, tempDirOf } from '../restore/archive-source.js';
import { BackupsService } from '../create/backups.service.js';
import type { RollbackJob, RollbackTarget } from './rollback-job.js';
import { RollbackRunner } from './rollback.runner.js';
import { BackupArchives } from '../shared/archive-locations.js';

export interface RollbackRequest {
  backupId?: string;
  untilEvent?: number;
  until?: string;
}

type App = { id: string; name: string };

/**
 * The rollback use case: in place, the app keeps its id, name, contributors and backups, and new
 * events by the acting user bring every schema, content and asset back to the state of one of its
 * backups (or of a point in its history). Nothing is removed from the history, so a rollback can
 * itself be rolled back. Here: which state a request means, with every check that can fail before
 * a job starts; the job runs on the JobProcessor (RollbackRunner).
 */
@Injectable()
export class RollbacksService {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly installation: InstallationService,
    private readonly backups: BackupsService,
    private readonly runner: RollbackRunner,
    private readonly processor: JobProcessor,
    private readonly archives: BackupArchives,
  ) {}

  get jobs(): JobStore<RollbackJob> {
    return this.runner.jobs;
  }

  /**
   * Checks the request, takes the app's rollback slot (which also holds the app's writes in every
   * process: see EventWriter) and runs the rollback; a process that does not run the projections
   * hands it to the one that does (it projects its own events there), holding the slot meanwhile.
   */
  async start(app: App, request: RollbackRequest, actor: string): Promise<RollbackJob> {
    const target = await this.resolveTarget(app, request);
    const now = new Date().toISOString();
    const draft: RollbackJob = {
      id: randomUUID(),
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
    return this.processor.submit(this.runner, draft, {
      admit: async (job) => {
        const running = (await this.backups.jobs.find({ appId: app.id })).items.find(isActive);
        if (running) throw conflict(`A backup of app "${app.name}" is running (${running.id}); roll back once it has finished`);
        return job;
      },
    });
  }

  /** The store position of the state asked for, with every check that can fail before a job starts. */
  async resolveTarget(app: App, request: RollbackRequest): Promise<RollbackTarget> {
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
      // An incremental backup is a restore point only with its whole chain: a rollback to it needs every base in place.
      const broken = await chainProblem(backup, (id) => this.backups.jobs.get(id));
      if (broken) throw conflict(`${broken}; a rollback goes to a backup that can be restored`);
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

  /**
   * Backups made before jobs recorded their position still have it in their manifest: the store
   * position the app was taken at, meaningful only in the installation (and store) that made it.
   */
  private async positionInArchive(backup: BackupJob): Promise<number> {
    const tempDir = tempDirOf(this.config);
    await mkdir(tempDir, { recursive: true });
    const { file, owned } = await archiveOnDisk({ kind: 'backup', backup }, join(tempDir, `rollback-${randomUUID()}.zip`), { blobs: this.blobs, config: this.config, archives: this.archives });
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
}

function describeTarget(target: RollbackTarget): string {
  if (target.backupId) return `backup ${target.backupId} (event ${target.event})`;
  if (target.until) return `${target.until} (event ${target.event})`;
  return `event ${target.event}`;
}
