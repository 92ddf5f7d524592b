import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { conflict, invalid } from '../../platform/domain-errors.js';
import { ArchiveParticipants } from '../../archive/archive-participant.port.js';
import type { BackupSelection } from '../shared/backup-selection.js';
import { type BackupJob, type BackupTrigger, type ChainPlace, chainEventsOf, type IncrementalBase, isActive, isPartial, triggerOf } from '../shared/backup-job.js';
import { BackupCopies, type KeptCopy, type ObjectLockRule } from '../shared/backup-copies.js';
import { queuedProgress } from '../../jobs/job-progress.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobStore } from '../../jobs/job-store.js';
import { BackupRunner } from './backup.runner.js';
import type { EncryptionInput } from '../../contract/encryption.schemas.js';
import { ArchiveKeys, generatePassphrase } from '../../archive/age-keys.js';
import { JobSecrets } from '../../jobs/job-secrets.js';
import { BackupRecipients } from '../encryption/backup-recipients.service.js';

export interface BackupRequest {
  label?: string;
  /** Who asked: the caller, or the policy's author for a scheduled backup. */
  actor: string;
  trigger?: BackupTrigger;
  /** A partial backup's selection (normalized); null or absent for the whole app. */
  include?: BackupSelection | null;
  /** `false` skips the per-app limit (a scheduled backup whose policy prunes). */
  limit?: boolean;
  /** Where the backup goes, by repository name; absent: `local`. */
  repositories?: string[];
  /** A policy's own Object Lock for the copies (where the repository can lock). */
  objectLock?: ObjectLockRule | null;
  /** Encrypt the archive: to configured recipients, or (started by hand) with a passphrase made for it. */
  encryption?: EncryptionInput | null;
  /** Also the users' API key hashes (an admin's request; only with encryption). */
  credentials?: boolean;
  /** Incremental from a base backup (the request's, or the app's latest full-app backup); null or absent: full. */
  incremental?: IncrementalRequest | null;
}

/** What an incremental backup continues, and how long its chain may grow before a full backup is taken instead. */
export interface IncrementalRequest {
  /** The base backup; absent: the app's latest Completed backup of the whole app (of `trigger`, when given). */
  base?: string;
  trigger?: BackupTrigger;
  /** Tighter bounds than the installation's (MAX_INCREMENTAL_CHAIN, MAX_INCREMENTAL_CHAIN_DAYS), a policy's. */
  maxIncrements?: number;
  maxDays?: number;
}

/** A backup as its request answers it: with the passphrase made for it, the one time it is shown. */
export type StartedBackup = BackupJob & { passphrase?: string };

/**
 * The backup use case: what a backup request must pass (a selection the app can satisfy, the
 * per-app limit) and the stored backups (download, delete). The job runs on the JobProcessor
 * (BackupRunner): scheduled at once (the HTTP answer is 202), one per app at a time, state kept in
 * the read store so it survives restarts. At most MAX_BACKUPS_PER_APP manual backups are stored per
 * app (scheduled backups are bounded by their policy's retention; a policy without retention rules
 * is held to the same limit, counted over scheduled backups). The scheduler and rollbacks (safety
 * backups) start backups here too.
 */
@Injectable()
export class BackupsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runner: BackupRunner,
    private readonly processor: JobProcessor,
    private readonly participants: ArchiveParticipants,
    private readonly copies: BackupCopies,
    private readonly recipients: BackupRecipients,
    private readonly secrets: JobSecrets,
  ) {}

  get jobs(): JobStore<BackupJob> {
    return this.runner.jobs;
  }

  /**
   * Schedules a backup and starts it. The limit is checked under the app's backup slot, so it holds
   * across processes; it counts the backups of the same trigger, so scheduled backups never block
   * manual ones.
   */
  async schedule(app: { id: string; name: string }, request: BackupRequest): Promise<StartedBackup> {
    const { label, actor, trigger = 'manual', include = null } = request;
    if (include) await this.checkSelection(app.id, include);
    const repositories = await this.copies.checkTargets(request.repositories);
    if (request.credentials && !request.encryption) {
      throw invalid('include.credentials: credentials (the users’ API key hashes) go only into an encrypted archive; add encryption: { recipients: [...] } or { passphrase: true }');
    }
    const chain = request.incremental ? await this.chainFor(app, request.incremental, include) : null;
    // An incremental of an encrypted base is encrypted to the same recipients unless the request says otherwise: a restore needs one key for every link.
    const encryption = request.encryption ? await this.recipients.resolve(app, request.encryption) : (chain?.encryption ?? null);
    const draft: BackupJob = {
      id: randomUUID(),
      appId: app.id,
      appName: app.name,
      label: label ?? '',
      trigger,
      include,
      status: 'Scheduled',
      created: new Date().toISOString(),
      createdBy: actor,
      started: null,
      completed: null,
      eventCount: 0,
      assetCount: 0,
      userCount: 0,
      sizeBytes: 0,
      sha256: null,
      error: null,
      warnings: chain?.warning ? [chain.warning] : [],
      repositories,
      ...(chain?.base ? { base: chain.base, chain: chain.place } : {}),
      ...(request.objectLock ? { objectLock: request.objectLock } : {}),
      ...(encryption ? { encryption } : {}),
      ...(request.credentials ? { credentials: true } : {}),
      ...queuedProgress(),
    };
    // A passphrase is made for this backup, held in this process's memory for its run (JobSecrets) and answered once.
    const passphrase = encryption?.passphrase ? generatePassphrase() : undefined;
    if (passphrase) this.secrets.hold(draft.id, (await ArchiveKeys.of({ passphrase }))!);
    try {
      const job = await this.submit(app, draft, trigger, request);
      return passphrase ? { ...job, passphrase } : job;
    } catch (error) {
      this.secrets.drop(draft.id);
      throw error;
    }
  }

  private submit(app: { id: string; name: string }, draft: BackupJob, trigger: BackupTrigger, request: BackupRequest): Promise<BackupJob> {
    return this.processor.submit(this.runner, draft, {
      admit: async (job) => {
        const existing = await this.jobs.find({ appId: app.id });
        // A job still marked active without the slot is one a dead process left; the sweep marks it Failed.
        if (existing.items.some(isActive)) throw conflict(this.runner.slot(job).busy);
        // A safety backup counts as manual once a later backup of the app has succeeded.
        const lastGood = existing.items.filter((other) => other.status === 'Completed' && triggerOf(other) !== 'safety').reduce((at, other) => (other.created > at ? other.created : at), '');
        const counts = (other: BackupJob) => triggerOf(other) === trigger || (trigger === 'manual' && triggerOf(other) === 'safety' && other.created < lastGood);
        const counted = existing.items.filter(counts).length;
        if (request.limit !== false && trigger !== 'safety' && counted >= this.config.maxBackupsPerApp) {
          const safety = existing.items.filter((other) => counts(other) && triggerOf(other) === 'safety').length;
          const including = safety > 0 ? ` (${safety} of them safety backups taken before rollbacks)` : '';
          throw conflict(`App "${app.name}" has ${counted} ${trigger} backups${including}, the limit is ${this.config.maxBackupsPerApp}; delete an old one first`);
        }
        return job;
      },
    });
  }

  /**
   * The base an incremental backup continues and its place in the chain, or why it is full after
   * all (a warning the backup carries): the app has no backup to continue, or the chain reached its
   * bound (so many increments, or a full backup so many days old). A base that cannot be continued
   * (not Completed, partial, of another app, encrypted with a passphrase) is a 4xx naming it.
   */
  private async chainFor(
    app: { id: string; name: string },
    request: IncrementalRequest,
    include: BackupSelection | null,
  ): Promise<{ base?: IncrementalBase; place?: ChainPlace; encryption?: BackupJob['encryption']; warning?: string }> {
    if (include) throw invalid('incremental: a partial backup cannot be incremental; incremental backups hold the whole app (leave out include, or incremental)');
    let base: BackupJob | undefined;
    if (request.base) {
      base = await this.get(request.base, app.id);
      if (base.status !== 'Completed') throw conflict(`incremental.base: backup ${base.id} is ${base.status}; an incremental continues a Completed backup`);
      if (isPartial(base)) throw invalid(`incremental.base: backup ${base.id} is partial; an incremental continues a backup of the whole app`);
    } else {
      const { items } = await this.jobs.find({ appId: app.id });
      base = items
        .filter((job) => job.status === 'Completed' && !isPartial(job) && job.position !== undefined && job.sha256 && (!request.trigger || triggerOf(job) === request.trigger))
        .sort((a, b) => b.created.localeCompare(a.created))[0];
      if (!base) return { warning: 'Full backup: the app has no Completed backup of the whole app for an incremental to continue' };
    }
    if (base.position === undefined || !base.sha256) throw invalid(`incremental.base: backup ${base.id} was made before incremental backups existed (no position recorded); make a full backup`);
    if (base.encryption?.passphrase) {
      throw invalid(`incremental.base: backup ${base.id} is encrypted with a passphrase made for it alone; an incremental continues a plain backup or one encrypted to recipients`);
    }
    const depth = (base.chain?.depth ?? 0) + 1;
    const full = base.chain?.full ?? base.id;
    const fullCreated = base.chain?.fullCreated ?? base.created;
    const maxIncrements = Math.min(request.maxIncrements ?? Number.POSITIVE_INFINITY, this.config.maxIncrementalChain);
    const maxDays = Math.min(request.maxDays ?? Number.POSITIVE_INFINITY, this.config.maxIncrementalChainDays);
    if (depth > maxIncrements) return { warning: `Full backup: the chain from full backup ${full} has ${depth - 1} increments already, the most it may have (${maxIncrements})` };
    const days = (Date.now() - Date.parse(fullCreated)) / 86_400_000;
    if (days >= maxDays) return { warning: `Full backup: the chain's full backup ${full} is ${Math.floor(days)} days old, the most a chain may span is ${maxDays} days` };
    return {
      base: { id: base.id, sha256: base.sha256, position: base.position, events: chainEventsOf(base) },
      place: { full, fullCreated, depth },
      ...(base.encryption ? { encryption: base.encryption } : {}),
    };
  }

  /** A selection that names what the app lacks is a 400 listing every problem, each naming its field. */
  async checkSelection(appId: string, include: BackupSelection): Promise<void> {
    const problems: string[] = [];
    for (const participant of this.participants.all) problems.push(...((await participant.checkSelection?.(appId, include)) ?? []));
    if (problems.length > 0) throw invalid(problems.join('; '));
  }

  /** Resolves once the backup `id` started by this process has recorded its outcome (at once if none runs). */
  settled(id: string): Promise<void> {
    return this.processor.settled(id);
  }

  /** A backup by id; with `appId`, only if it belongs to that app (so one app's id can't reach another's). */
  get(id: string, appId?: string): Promise<BackupJob> {
    return this.jobs.require(id, appId ? { appId } : {});
  }

  /** A backup whose archive can be downloaded; 409 until it is Completed. */
  async completed(id: string, appId?: string): Promise<BackupJob> {
    const job = await this.get(id, appId);
    if (job.status !== 'Completed') throw conflict(`Backup ${id} is ${job.status}; its archive can be downloaded once it is Completed`);
    return job;
  }

  /**
   * Deletes the backup and every copy of it (BackupCopies.deleteAll: 409 and nothing deleted when
   * a copy is locked). Returns the copies kept in append-only repositories.
   */
  async delete(id: string, appId?: string): Promise<KeptCopy[]> {
    const job = await this.get(id, appId);
    if (isActive(job)) throw conflict(`Backup ${id} is ${job.status}; it can be deleted once it has finished`);
    // An incremental backup cannot be restored without its base: the increments go first (the newest first).
    const { items } = await this.jobs.find({ appId: job.appId });
    const continuing = items.filter((other) => other.base?.id === id && other.status !== 'Failed').map((other) => other.id);
    if (continuing.length > 0) {
      throw conflict(`Backup ${id} is the base of incremental backup(s) ${continuing.join(', ')}, which cannot be restored without it; delete those first (the newest first)`);
    }
    const kept = await this.copies.deleteAll(job, (left) => this.jobs.put({ ...job, copies: left }));
    await this.jobs.delete(id);
    return kept;
  }
}
