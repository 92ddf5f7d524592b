import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { validateName } from '../../platform/text/identifier.rules.js';
import { conflict, invalid, unavailable } from '../../platform/domain-errors.js';
import { queuedProgress } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobStore } from '../../jobs/job-store.js';
import { type BackupJob, isActive, isEncrypted } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';
import { RestoreRunner, resumedOnce } from './restore.runner.js';
import { RestoreCleanup } from './restore-cleanup.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { describeUrl, type RestoreJob } from './restore-job.js';
import { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { requireRestoreUrl, stagedUploadKey, tempDirOf } from './archive-source.js';
import { describeRepositorySource, locateRepositoryArchive, type RepositoryArchiveRef } from './repository-source.js';
import type { ArchiveKeys } from '../../archive/age-keys.js';
import { JobSecrets } from '../../jobs/job-secrets.js';
import { INSTANCE_ID } from '../../platform/instance.js';
import { InstallationService } from '../shared/installation.service.js';

export type RestoreSource =
  | { kind: 'backup'; backupId: string }
  | { kind: 'url'; url: string }
  | { kind: 'upload'; file: string; fileName: string }
  | ({ kind: 'repository' } & RepositoryArchiveRef);

export interface RestoreRequest {
  source: RestoreSource;
  name?: string;
  untilEvent?: number;
  until?: string;
  /** What opens an encrypted archive, when the request gave it: kept in memory for this job only (JobSecrets). */
  keys?: ArchiveKeys | null;
}

/**
 * The restore use case: what a restore request must pass (its source, its point in time, its
 * name, reserved at once) before its job runs on the JobProcessor (RestoreRunner). One restore at
 * a time per installation: the restore slot. A process that does not run the projections accepts
 * the restore all the same and hands it over, an upload staged in the shared blob store.
 */
@Injectable()
export class RestoresService {
  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly backups: BackupsService,
    private readonly runner: RestoreRunner,
    private readonly processor: JobProcessor,
    private readonly repositories: RepositoryRegistry,
    private readonly secrets: JobSecrets,
    private readonly installation: InstallationService,
    private readonly cleanup: RestoreCleanup,
    private readonly replays: AppReplays,
  ) {}

  get jobs(): JobStore<RestoreJob> {
    return this.runner.jobs;
  }

  get tempDir(): string {
    return tempDirOf(this.config);
  }

  /** Refuses early (before an upload is read) when a restore is already running. */
  assertIdle(): Promise<void> {
    return this.processor.assertFree(this.runner, this.runner.slot());
  }

  /** Checks the request under the restore slot, reserves the name, and starts (or hands over) the restore; an upload is the job's from here on. */
  async start(request: RestoreRequest, actor: string): Promise<RestoreJob> {
    const now = new Date().toISOString();
    const draft: RestoreJob = {
      id: randomUUID(),
      status: 'Scheduled',
      source: '',
      name: request.name ?? null,
      appId: null,
      created: now,
      started: null,
      completed: null,
      eventCount: 0,
      restoredEvents: 0,
      restoredAssets: 0,
      log: [],
      error: null,
      createdBy: actor,
      nameToken: null,
      archiveFile: null,
      stagedArchive: null,
      slotToken: null,
      backupId: null,
      url: null,
      repository: null,
      untilEvent: request.untilEvent ?? null,
      until: request.until ?? null,
      ...queuedProgress(),
    };
    if (request.keys) this.secrets.hold(draft.id, request.keys);
    try {
      return await this.processor.submit(this.runner, draft, {
        admit: (job, here) => this.admit(job, request, here),
        // The process that runs it is elsewhere: the upload goes where every process can read it.
        beforeHandOff: async (job) => {
          if (request.source.kind !== 'upload' || !job.stagedArchive) return;
          await this.blobs.put(job.stagedArchive, createReadStream(request.source.file), { maxBytes: this.config.maxRestoreBytes });
          await rm(request.source.file, { force: true });
        },
      });
    } catch (error) {
      this.secrets.drop(draft.id);
      if (request.source.kind === 'upload') await rm(request.source.file, { force: true });
      throw error;
    }
  }

  /**
   * Continues an Interrupted restore from its journal, in this process (which must run the
   * projections). `keys`: for an encrypted archive interrupted before it was decrypted (the key is
   * never stored); one interrupted later resumes from its decrypted copy and needs none.
   */
  async resume(id: string, keys: ArchiveKeys | null, actor: string): Promise<RestoreJob> {
    const job = await this.jobs.require(id);
    if (!this.replays.projects) {
      throw unavailable(`This process (${INSTANCE_ID}) does not run the projections, so it cannot run a restore; send the resume to the process that does (GET /health on each)`);
    }
    if (keys) this.secrets.hold(job.id, keys);
    try {
      return await this.processor.resume(this.runner, job, `Resumed by ${actor}`, resumedOnce);
    } catch (error) {
      this.secrets.drop(job.id);
      throw error;
    }
  }

  /**
   * Cancels an Interrupted restore: everything it wrote goes, as after a failure (RestoreCleanup),
   * and it ends Failed. Under the restore slot, so it cannot race a resume; 409 for a restore in
   * any other state.
   */
  async cancel(id: string, actor: string): Promise<RestoreJob> {
    const job = await this.jobs.require(id);
    return this.processor.underSlot(this.runner, job, async () => {
      const current = await this.jobs.require(id);
      if (current.status !== 'Interrupted') throw conflict(`Restore ${id} is ${current.status}; only an Interrupted restore can be cancelled`);
      const cancelled = await this.cleanup.cancel(current, actor);
      await this.jobs.put(cancelled);
      return cancelled;
    });
  }

  /**
   * An encrypted stored backup is refused at once (400) when nothing at hand opens it: no key in
   * the request, and it was not encrypted to this installation's own recipient.
   */
  async requireOpener(backup: BackupJob, keys: ArchiveKeys | null): Promise<void> {
    if (!isEncrypted(backup) || keys) return;
    const own = await this.installation.recipient();
    if (backup.encryption!.recipients.some((recipient) => recipient.recipient === own)) return;
    throw invalid(
      `Backup ${backup.id} is encrypted (${backup.encryption!.passphrase ? 'with a passphrase' : `to ${backup.encryption!.recipients.map((r) => r.name ?? r.recipient).join(', ')}`}); give the identity (\`identity\`: an AGE-SECRET-KEY-1… key) or the passphrase (\`passphrase\`) that opens it`,
    );
  }

  /** The request's checks, under the restore slot; `here`: the restore runs in this process. */
  private async admit(job: RestoreJob, request: RestoreRequest, here: boolean): Promise<RestoreJob> {
    if (request.untilEvent !== undefined && request.until !== undefined) throw invalid('Give either untilEvent or until, not both');
    if (request.keys && !here) {
      // The key is never stored, so it cannot follow the job to the process that would run it.
      throw unavailable(
        `This restore carries a key for an encrypted archive, and keys are kept only in the memory of the process that receives them; this process (${INSTANCE_ID}) does not run the projections, so it cannot run the restore. Send the request to the process that does (GET /health on each), or encrypt the archive to that installation's own recipient (GET /api/installation/recipient), which needs no key in the request`,
      );
    }
    let name = job.name;
    let source: string;
    let backupId: string | null = null;
    let url: string | null = null;
    let repository: RestoreJob['repository'] = null;
    switch (request.source.kind) {
      case 'backup': {
        const backup = await this.backups.get(request.source.backupId);
        if (!isActive(backup) && backup.status !== 'Completed') throw conflict(`Backup ${backup.id} ${backup.status === 'Failed' ? 'failed' : 'is not complete'}; restore a Completed backup`);
        if (isActive(backup)) throw conflict(`Backup ${backup.id} is still ${backup.status}; restore it once it is Completed`);
        if (request.untilEvent !== undefined && request.untilEvent > backup.eventCount) {
          throw invalid(`untilEvent is ${request.untilEvent}, but backup ${backup.id} holds ${backup.eventCount} events`);
        }
        await this.requireOpener(backup, request.keys ?? null);
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
      case 'repository': {
        await locateRepositoryArchive(this.repositories, request.source, this.config.maxRestoreBytes);
        repository = { name: request.source.repository, key: request.source.key };
        source = describeRepositorySource(request.source);
        break;
      }
      case 'upload':
        source = `upload:${request.source.fileName}`;
        break;
    }
    let nameToken: string | null = null;
    if (name !== null) {
      validateName(name);
      nameToken = await this.names.reserve(claims.appName(name), this.config.nameReservationTtlMs, job.id);
    }
    const upload = request.source.kind === 'upload' ? request.source.file : null;
    return {
      ...job,
      source,
      name,
      backupId,
      url,
      repository,
      nameToken,
      archiveFile: here ? upload : null,
      stagedArchive: !here && upload ? stagedUploadKey(job.id) : null,
      log: [{ at: job.created, message: `Restore requested from ${source}${name ? ` as "${name}"` : ''}` }],
    };
  }
}
