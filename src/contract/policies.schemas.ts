import { z } from 'zod';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { Int, Time } from './common.schemas.js';
import { BackupIncludeBody, Selection } from './backups.schemas.js';

const keep = z.number().int('must be a whole number').min(1).max(1000).optional();

/** The server also checks the cron expression itself (see the policy's controller). */
export const BackupPolicyBody = z.strictObject({
  schedule: z.string().trim().min(1).max(200).check(singleLine()).describe('Cron, in UTC: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)'),
  keepLast: keep,
  keepDaily: keep,
  keepWeekly: keep,
  keepMonthly: keep,
  include: BackupIncludeBody.nullable().optional(),
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
  created: Time,
  updated: Time,
});
export type BackupPolicy = z.infer<typeof BackupPolicy>;
