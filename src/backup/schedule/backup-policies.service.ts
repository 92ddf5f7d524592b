import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/domain-errors.js';
import type { BackupSelection } from '../shared/backup-selection.js';
import { BackupsService } from '../create/backups.service.js';
import type { BackupPolicy } from './backup-policy.js';
import { BackupCopies, type ObjectLockRule } from '../shared/backup-copies.js';
import { describeDuration, gapShorterThan, parseSchedule, type Schedule } from './cron.js';
import { KEEP_RULES, mostKept, type RetentionRules } from './retention.js';
import type { EncryptionInput } from '../../contract/encryption.schemas.js';
import { BackupRecipients } from '../encryption/backup-recipients.service.js';

export interface PolicyInput extends RetentionRules {
  schedule: string;
  /** Scheduled backups of part of the app (normalized); null or absent for the whole app. */
  include?: BackupSelection | null;
  repositories?: string[];
  objectLock?: ObjectLockRule | null;
  encryption?: EncryptionInput | null;
  /** Refused: credentials go only into backups an admin starts by hand. */
  credentials?: boolean;
  incremental?: { maxIncrements?: number; maxDays?: number } | null;
  /** Every Nth scheduled backup is full (the contract's word for it): stored as `incremental.maxIncrements` = N − 1. */
  fullEvery?: number | null;
}

/** Backup policies in the read store (job state, never rebuilt), one per app. */
@Injectable()
export class BackupPoliciesService {
  readonly policies: ReadCollection<BackupPolicy>;

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    private readonly clock: Clock,
    private readonly backups: BackupsService,
    private readonly copies: BackupCopies,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly recipients: BackupRecipients,
  ) {
    this.policies = store.collection<BackupPolicy>('backup_policies', { indexes: ['appId'] });
  }

  async put(app: { id: string; name: string }, input: PolicyInput, actor: string): Promise<BackupPolicy> {
    const cron = parseSchedule(input.schedule);
    if (typeof cron === 'string') throw new BadRequestException(`schedule: ${cron}`);
    const now = this.clock.now();
    const next = cron.next(now);
    if (!next) throw new BadRequestException('schedule: never occurs');
    const limits = [await this.floorProblem(cron, now), this.ceilingProblem(input)].filter((problem) => problem !== undefined);
    if (limits.length > 0) throw new BadRequestException(limits.join('; '));
    if (input.include) await this.backups.checkSelection(app.id, input.include);
    const repositories = await this.copies.checkTargets(input.repositories);
    if (input.objectLock && !(await this.copies.canLock(repositories))) {
      throw new BadRequestException(`objectLock: none of the policy's repositories (${repositories.join(', ')}) can lock copies; name an S3 repository whose bucket has Object Lock enabled`);
    }
    if (input.credentials) {
      throw new BadRequestException('include.credentials: a policy’s backups cannot hold credentials; an admin asks for them on a backup started by hand, encrypted');
    }
    const incremental = this.incrementalOf(input);
    if (incremental && input.include) {
      const leaveOut = input.incremental ? 'incremental' : 'fullEvery (or set it to 1)';
      throw new BadRequestException(`${input.incremental ? 'incremental' : 'fullEvery'}: a partial backup cannot be incremental; incremental backups hold the whole app (leave out include, or ${leaveOut})`);
    }
    if (input.encryption?.passphrase) {
      throw new BadRequestException('encryption: a policy cannot encrypt with a passphrase, since nobody is there to receive it when a scheduled backup runs; name recipients (configured names or age1… public keys) instead');
    }
    // Checked now for a clear 400; looked up again at each run, so a recipient removed since fails that run, saying so.
    if (input.encryption) await this.recipients.resolve(app, input.encryption);
    const existing = await this.policies.get(app.id);
    const policy: BackupPolicy = {
      id: app.id,
      appId: app.id,
      appName: app.name,
      schedule: input.schedule.trim().split(/\s+/).join(' '),
      ...(input.keepLast !== undefined ? { keepLast: input.keepLast } : {}),
      ...(input.keepDaily !== undefined ? { keepDaily: input.keepDaily } : {}),
      ...(input.keepWeekly !== undefined ? { keepWeekly: input.keepWeekly } : {}),
      ...(input.keepMonthly !== undefined ? { keepMonthly: input.keepMonthly } : {}),
      include: input.include ?? null,
      repositories,
      objectLock: input.objectLock ?? null,
      encryption: input.encryption?.recipients ? { recipients: input.encryption.recipients } : null,
      incremental,
      nextRun: next.toISOString(),
      lastRun: existing?.lastRun ?? null,
      lastBackupId: existing?.lastBackupId ?? null,
      lastError: existing?.lastError ?? null,
      lastWarning: existing?.lastWarning ?? null,
      created: existing?.created ?? now.toISOString(),
      updated: now.toISOString(),
      updatedBy: actor,
    };
    await this.policies.put(policy);
    return policy;
  }

  /**
   * The policy's incremental rule, from `incremental` and `fullEvery` together. A run is full once
   * its chain has maxIncrements increments (BackupsService), so "every Nth run is full" is
   * maxIncrements = N − 1, and N = 1 is no incremental rule at all. Both given must agree, and N may
   * not need a longer chain than the installation allows (it would silently come sooner).
   */
  private incrementalOf(input: PolicyInput): BackupPolicy['incremental'] {
    const given = input.incremental ?? null;
    const fullEvery = input.fullEvery ?? null;
    if (fullEvery === null) return given ? { maxIncrements: given.maxIncrements ?? null, maxDays: given.maxDays ?? null } : null;
    if (fullEvery === 1) {
      if (given) throw new BadRequestException('fullEvery: 1 takes every scheduled backup full, but incremental asks for incremental runs; leave out incremental, or set fullEvery above 1');
      return null;
    }
    const maxIncrements = fullEvery - 1;
    if (given?.maxIncrements !== undefined && given.maxIncrements !== maxIncrements) {
      throw new BadRequestException(
        `fullEvery: ${fullEvery} means a full backup then ${maxIncrements} incremental ones (incremental.maxIncrements ${maxIncrements}), but incremental.maxIncrements is ${given.maxIncrements}; give one of them, or make them agree`,
      );
    }
    const ceiling = this.config.maxIncrementalChain;
    if (maxIncrements > ceiling) {
      throw new BadRequestException(`fullEvery: ${fullEvery} needs chains of ${maxIncrements} incremental backups; this installation allows at most ${ceiling} (MAX_INCREMENTAL_CHAIN), so set fullEvery to at most ${ceiling + 1}`);
    }
    return { maxIncrements, maxDays: given?.maxDays ?? null };
  }

  /** A schedule may not run an app's backups closer together than BACKUP_SCHEDULE_MIN_INTERVAL_MS. */
  private async floorProblem(cron: Schedule, now: Date): Promise<string | undefined> {
    const floor = this.config.backupScheduleMinIntervalMs;
    const gap = await gapShorterThan(cron, now, floor);
    if (!gap) return undefined;
    return `schedule: runs only ${describeDuration(gap.gapMs)} apart (at ${gap.at.toISOString()} and the run after it); scheduled backups of an app must be at least ${describeDuration(floor)} apart (BACKUP_SCHEDULE_MIN_INTERVAL_MS)`;
  }

  /** Retention may not keep more scheduled backups of an app than MAX_SCHEDULED_BACKUPS_PER_APP. */
  private ceilingProblem(rules: RetentionRules): string | undefined {
    const ceiling = this.config.maxScheduledBackupsPerApp;
    const most = mostKept(rules);
    if (most <= ceiling) return undefined;
    const given = KEEP_RULES.filter((rule) => rules[rule] !== undefined);
    const keep = given.length === 1 ? 'keeps' : 'together keep';
    return `${given.join(', ')}: ${keep} up to ${most} scheduled backups; an app may keep at most ${ceiling} (MAX_SCHEDULED_BACKUPS_PER_APP)`;
  }

  async get(appId: string, appName: string): Promise<BackupPolicy> {
    const policy = await this.policies.get(appId);
    if (!policy) throw notFound(`App "${appName}" has no backup policy`);
    return policy;
  }

  async delete(appId: string, appName: string): Promise<void> {
    await this.get(appId, appName);
    await this.policies.delete(appId);
  }
}
