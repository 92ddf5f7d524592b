import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../../infrastructure/name-index/name-index.port.js';
import { APP_DIRECTORY, type AppDirectory } from '../../auth/auth.ports.js';
import { Clock } from '../../platform/clock.js';
import { INSTANCE_ID } from '../../platform/instance.js';
import { quoted } from '../../platform/text/control-characters.js';
import { type BackupJob, copiesOf, targetsOf, triggerOf } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';
import { BackupPoliciesService } from './backup-policies.service.js';
import type { BackupPolicy } from './backup-policy.js';
import { describeDuration, parseSchedule } from './cron.js';
import { hasRetention, keptWithOneMore, planPruning, type RetentionCandidate } from './retention.js';

/** How often the timer looks for due policies. */
const TICK_MS = 5000;
/** A schedule with no occurrence left (it was valid when set) waits here. */
const NEVER = '9999-12-31T23:59:59.999Z';

/**
 * Starts the backups of due policies. Each occurrence runs at most once, across restarts and
 * processes: a process first takes a lease on (app, occurrence) in the shared claims, re-reads the
 * policy, and only if the occurrence is still the policy's `nextRun` advances `nextRun` to the
 * schedule's next occurrence after now (so a server that was down over several occurrences runs
 * one catch-up backup, not a burst) and then starts the backup. Another process that read the
 * same policy either fails to take the lease or, once it has it, finds `nextRun` moved on.
 *
 * Two limits hold whatever a stored policy says (one stored before they existed, or a limit
 * lowered since): the next run is never less than BACKUP_SCHEDULE_MIN_INTERVAL_MS after the
 * occurrence just run, and a run that would leave the app more scheduled backups than
 * MAX_SCHEDULED_BACKUPS_PER_APP (after its retention) takes none. Either is said in `lastError`.
 *
 * The timer only calls `runDue(clock.now())`; tests call it with a time of their own.
 */
@Injectable()
export class BackupScheduler implements OnApplicationShutdown {
  private readonly logger = new Logger(BackupScheduler.name);
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly policies: BackupPoliciesService,
    private readonly backups: BackupsService,
    private readonly clock: Clock,
    private readonly moduleRef: ModuleRef,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      void this.runDue(this.clock.now())
        .catch((error: unknown) => this.logger.warn(`Could not run due backup policies: ${String(error)}`))
        .finally(() => {
          this.ticking = false;
        });
    }, TICK_MS);
    this.timer.unref();
  }

  /** Starts the backup of every policy due at `now`; returns the backups this call started. */
  async runDue(now: Date): Promise<BackupJob[]> {
    const started: BackupJob[] = [];
    const due: BackupPolicy[] = [];
    for await (const policy of this.policies.policies.iterate({})) if (policy.nextRun <= now.toISOString()) due.push(policy);
    for (const policy of due) {
      const job = await this.runOne(policy, now).catch((error: unknown) => {
        this.logger.warn(`Scheduled backup of app ${policy.appName} did not start: ${String(error)}`);
        return undefined;
      });
      if (job) started.push(job);
    }
    return started;
  }

  /** Resolves once the backups this process started have ended and their retention has run. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.idle();
  }

  private async runOne(seen: BackupPolicy, now: Date): Promise<BackupJob | undefined> {
    const occurrence = seen.nextRun;
    let lease: Lease;
    try {
      lease = await Lease.acquire(this.names, claims.scheduledBackup(seen.appId, occurrence), { ttlMs: this.config.nameReservationTtlMs, holder: INSTANCE_ID });
    } catch (error) {
      if (error instanceof NameUnavailableError) return undefined; // another process is starting it
      throw error;
    }
    try {
      const policy = await this.policies.policies.get(seen.appId);
      if (!policy || policy.nextRun !== occurrence) return undefined; // run by another process, or changed
      const cron = parseSchedule(policy.schedule);
      const floor = this.config.backupScheduleMinIntervalMs;
      const earliest = Date.parse(occurrence) + floor;
      const next = typeof cron === 'string' ? null : cron.next(new Date(Math.max(now.getTime(), earliest - 1)));
      // The schedule has occurrences closer together than the floor, which this run skips.
      const throttled = typeof cron !== 'string' && (cron.next(now)?.getTime() ?? Infinity) < earliest;
      // Advance first: a crash after this line skips the occurrence rather than running it twice.
      await this.policies.policies.put({ ...policy, nextRun: next?.toISOString() ?? NEVER, lastRun: now.toISOString() });
      const app = await this.moduleRef.get<AppDirectory>(APP_DIRECTORY, { strict: false }).findByName(policy.appName);
      if (!app || app.id !== policy.appId) {
        this.logger.warn(`App ${policy.appName} (${policy.appId}) no longer exists; its backup policy is removed`);
        await this.policies.policies.delete(policy.appId);
        return undefined;
      }
      const full = await this.ceilingReached(policy, now);
      if (full) {
        await this.record(policy.appId, { lastError: full });
        return undefined;
      }
      let job: BackupJob;
      try {
        job = await this.backups.schedule(app, {
          label: 'scheduled',
          actor: policy.updatedBy,
          trigger: 'scheduled',
          include: policy.include ?? null,
          limit: !hasRetention(policy),
          repositories: targetsOf(policy),
          objectLock: policy.objectLock ?? null,
          encryption: policy.encryption ?? null,
          // Continues the policy's own last backup (scheduled), within the policy's bounds and the installation's.
          incremental: policy.incremental
            ? { trigger: 'scheduled', ...(policy.incremental.maxIncrements ? { maxIncrements: policy.incremental.maxIncrements } : {}), ...(policy.incremental.maxDays ? { maxDays: policy.incremental.maxDays } : {}) }
            : null,
        });
      } catch (error) {
        await this.record(policy.appId, { lastError: error instanceof Error ? error.message : String(error) });
        return undefined;
      }
      const note = throttled
        ? `The schedule ${quoted(policy.schedule)} runs more often than every ${describeDuration(floor)} (BACKUP_SCHEDULE_MIN_INTERVAL_MS), so runs closer than that to the one before are skipped; the next is at ${next?.toISOString() ?? 'no time'}. Set a schedule whose runs are at least ${describeDuration(floor)} apart.`
        : null;
      await this.record(policy.appId, { lastBackupId: job.id, lastError: note });
      const after = this.backups
        .settled(job.id)
        .then(() => this.afterBackup(policy.appId, job.id))
        .catch((error: unknown) => this.logger.warn(`Retention after backup ${job.id} of app ${policy.appName} failed: ${String(error)}`))
        .finally(() => this.pending.delete(after));
      this.pending.add(after);
      return job;
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  /**
   * Why this run may take no backup: with it, after the policy's retention, the app would keep
   * more scheduled backups than MAX_SCHEDULED_BACKUPS_PER_APP. Undefined when it may.
   */
  private async ceilingReached(policy: BackupPolicy, now: Date): Promise<string | undefined> {
    const ceiling = this.config.maxScheduledBackupsPerApp;
    const { items } = await this.backups.jobs.find({ appId: policy.appId });
    const kept = keptWithOneMore(items.map(candidate), policy, now.toISOString());
    if (kept <= ceiling) return undefined;
    return (
      `No scheduled backup was taken: app "${policy.appName}" keeps ${kept - 1} scheduled backups, and with one more its policy would keep ${kept}, ` +
      `more than the ${ceiling} an app may keep (MAX_SCHEDULED_BACKUPS_PER_APP). Lower the policy's keep rules (together at most ${ceiling}) or delete scheduled backups it no longer needs.`
    );
  }

  /**
   * After a scheduled backup: its failure goes on the policy; a success prunes by the policy,
   * skipping backups with a locked copy. Failed copies and kept backups go on `lastWarning`.
   */
  private async afterBackup(appId: string, backupId: string): Promise<void> {
    const job = await this.backups.jobs.get(backupId);
    if (!job) return;
    if (job.status === 'Failed') {
      await this.record(appId, { lastError: `Backup ${backupId} failed: ${job.error ?? 'unknown error'}` });
      return;
    }
    if (job.status !== 'Completed') return;
    const policy = await this.policies.policies.get(appId);
    if (!policy) return;
    const notes: string[] = [];
    const failedCopies = copiesOf(job).filter((copy) => copy.written === null);
    if (failedCopies.length > 0) notes.push(`Backup ${backupId} completed, but ${failedCopies.map((copy) => `its copy to "${copy.repository}" failed: ${copy.error ?? 'unknown error'}`).join('; ')}`);
    const { items } = await this.backups.jobs.find({ appId });
    const plan = planPruning(items.map(candidate), policy, new Date().toISOString());
    let pruned = 0;
    // Newest first: an incremental backup goes before its base, which cannot be deleted while it stays.
    for (const id of [...plan.prune].reverse()) {
      try {
        await this.backups.delete(id, appId);
        pruned += 1;
      } catch (error) {
        // A lock the record did not know of (set by the store's default retention), or a repository that failed.
        notes.push(`Retention could not delete backup ${id}: ${error instanceof Error ? error.message : String(error)}`);
        this.logger.warn(`Could not prune backup ${id}: ${String(error)}`);
      }
    }
    if (plan.bases.length > 0) {
      notes.push(`Retention kept ${plan.bases.length} backup(s) its rules would delete, because kept incremental backups continue them (their bases): ${plan.bases.join(', ')}`);
    }
    if (plan.held.length > 0) {
      notes.push(`Retention kept ${plan.held.length} backup(s) its rules would delete, because a copy is locked: ${plan.held.map((held) => `${held.id} (in "${held.repository}" until ${held.until})`).join(', ')}; a later run deletes them once their locks have passed`);
    }
    if (pruned > 0) this.logger.log(`Pruned ${pruned} scheduled backup(s) of app ${job.appName} by its policy`);
    if (notes.length > 0) this.logger.warn(`Backup policy of app ${job.appName}: ${notes.join('. ')}`);
    await this.record(appId, { lastWarning: notes.length > 0 ? notes.join('. ') : null });
  }

  private async record(appId: string, fields: Partial<Pick<BackupPolicy, 'lastError' | 'lastBackupId' | 'lastWarning'>>): Promise<void> {
    const policy = await this.policies.policies.get(appId);
    if (policy) await this.policies.policies.put({ ...policy, ...fields });
  }
}

function candidate(b: BackupJob): RetentionCandidate {
  const locked = copiesOf(b)
    .filter((copy) => copy.lockedUntil !== null)
    .sort((x, y) => (x.lockedUntil! < y.lockedUntil! ? 1 : -1))[0];
  return { id: b.id, created: b.created, status: b.status, trigger: triggerOf(b), base: b.base?.id ?? null, ...(locked ? { lockedUntil: locked.lockedUntil, lockedIn: locked.repository } : {}) };
}
