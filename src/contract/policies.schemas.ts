import { z } from 'zod';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { Int, Time } from './common.schemas.js';
import { BackupIncludeBody, RepositoryNames, Selection } from './backups.schemas.js';
import { EncryptionBody } from './encryption.schemas.js';

const LockMode = z.enum(['GOVERNANCE', 'COMPLIANCE'], { message: 'objectLock.mode must be GOVERNANCE or COMPLIANCE' });
/** A policy's own Object Lock for its copies, in repositories that can lock (a repository's own lock is never shortened). */
export const ObjectLockBody = z.strictObject({
  mode: LockMode,
  days: z.number().int('objectLock.days must be a whole number').min(1, 'objectLock.days must be at least 1').max(36_500, 'objectLock.days must be at most 36500 (100 years)'),
});

const keep = z.number().int('must be a whole number').min(1).max(1000).optional();

/** "Full weekly, incremental daily": each run is incremental from the policy's last backup until the chain reaches a bound, then full. */
export const PolicyIncremental = z
  .strictObject({
    maxIncrements: z.number().int('must be a whole number').min(1).max(1000).optional().describe('A full backup after this many increments (the installation’s MAX_INCREMENTAL_CHAIN caps it)'),
    maxDays: z.number().int('must be a whole number').min(1).max(3660).optional().describe('A full backup once the chain’s full backup is this many days old (MAX_INCREMENTAL_CHAIN_DAYS caps it)'),
  })
  .describe('Scheduled backups are incremental from the policy’s last Completed backup, and full when the chain reaches a bound (or there is none); absent or null: every run is full');

/** The server also checks the cron expression itself (see the policy's controller). */
export const BackupPolicyBody = z.strictObject({
  schedule: z.string().trim().min(1).max(200).check(singleLine()).describe('Cron, in UTC: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)'),
  keepLast: keep,
  keepDaily: keep,
  keepWeekly: keep,
  keepMonthly: keep,
  include: BackupIncludeBody.nullable().optional(),
  repositories: RepositoryNames.optional(),
  objectLock: ObjectLockBody.nullable().optional().describe('Locks each copy for `days` in `mode` where the repository can lock copies (S3 with Object Lock)'),
  encryption: EncryptionBody.nullable().optional().describe('Encrypt each scheduled backup to these recipients (names are looked up at each run); a passphrase cannot be used here, since no one is there to receive it'),
  incremental: PolicyIncremental.nullable().optional(),
  fullEvery: z
    .number()
    .int('fullEvery must be a whole number')
    .min(1, 'fullEvery must be at least 1 (1: every scheduled backup is full)')
    .max(1001, 'fullEvery must be at most 1001 (a full backup, then at most 1000 incremental ones)')
    .nullable()
    .optional()
    .describe(
      'Every Nth scheduled backup is full, the ones between incremental: 1 takes every run full, 7 a full one then six incremental ones (the same as `incremental: { maxIncrements: 6 }`); at most MAX_INCREMENTAL_CHAIN + 1',
    ),
});

const kept = Int.min(1).max(1000).nullable();
export const BackupPolicy = z.strictObject({
  appId: z.string(),
  appName: z.string(),
  schedule: z.string().describe('Cron, UTC: 5 fields, or 6 with seconds first'),
  include: Selection.nullable().describe('What each scheduled backup holds; null for the whole app'),
  keepLast: kept,
  keepDaily: kept,
  keepWeekly: kept,
  keepMonthly: kept,
  nextRun: Time,
  lastRun: Time.nullable(),
  lastBackupId: z.string().nullable(),
  lastError: z.string().nullable(),
  repositories: z.array(z.string()),
  objectLock: ObjectLockBody.nullable(),
  encryption: z.strictObject({ recipients: z.array(z.string()) }).nullable().describe('The recipients each scheduled backup is encrypted to, as the policy names them'),
  incremental: z
    .strictObject({ maxIncrements: Int.nullable(), maxDays: Int.nullable() })
    .nullable()
    .describe('Runs are incremental, full after maxIncrements increments or maxDays days (each capped by the installation’s bound); null: every run is full'),
  fullEvery: Int.min(1).describe(
    'Every Nth scheduled backup is full: 1 when every run is full (no `incremental`), else the increments a chain may have (`maxIncrements`, or the installation’s MAX_INCREMENTAL_CHAIN, whichever is smaller) + 1; with `maxDays` a full one may come sooner',
  ),
  lastWarning: z.string().nullable().describe('What the last run could not do though its backup completed: copies that failed, backups retention kept because a copy is locked'),
  created: Time,
  updated: Time,
});
export type BackupPolicy = z.infer<typeof BackupPolicy>;
