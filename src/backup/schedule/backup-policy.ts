import type { BackupSelection } from '../shared/backup-selection.js';
import type { RetentionRules } from './retention.js';
import type { ObjectLockRule } from '../shared/backup-copies.js';

/** An app's backup policy, as stored (one per app, keyed by the app id) and as served. */
export interface BackupPolicy extends RetentionRules {
  id: string;
  appId: string;
  appName: string;
  /** Cron, UTC. */
  schedule: string;
  /** What each scheduled backup holds; null (or absent on policies stored before) for the whole app. */
  include?: BackupSelection | null;
  /** The next occurrence the scheduler will run; always after the last run. */
  nextRun: string;
  /** When the scheduler last ran (started, or tried to start) a backup, and for which occurrence. */
  lastRun: string | null;
  lastBackupId: string | null;
  /** Why the last scheduled run started no backup, or why its backup failed; null after a good one. */
  lastError: string | null;
  /** Where each scheduled backup goes, by repository name (absent on policies stored before: `local`). */
  repositories?: string[];
  /** The policy's own Object Lock for its copies, where the repository can lock. */
  objectLock?: ObjectLockRule | null;
  /** The recipients each scheduled backup is encrypted to, by name (or key) as the policy gave them, looked up at each run; absent or null: plain zips. */
  encryption?: { recipients: string[] } | null;
  /** Scheduled runs are incremental, with a full backup after so many increments or days; absent or null: every run is full. */
  incremental?: { maxIncrements: number | null; maxDays: number | null } | null;
  /** What the last run could not do though its backup completed (failed copies, backups kept for a lock); null when it did all. */
  lastWarning?: string | null;
  created: string;
  updated: string;
  updatedBy: string;
}

/**
 * Every how many scheduled backups one is full, as the scheduler decides it (BackupsService's
 * chain bound): a run continues the policy's last Completed backup while that chain has fewer than
 * `maxIncrements` increments (capped by the installation's MAX_INCREMENTAL_CHAIN), so a full one
 * comes every maxIncrements + 1 runs. No incremental rule: every run is full (1).
 */
export function fullEveryOf(incremental: BackupPolicy['incremental'], installationMaxIncrements: number): number {
  if (!incremental) return 1;
  return Math.min(incremental.maxIncrements ?? Number.POSITIVE_INFINITY, installationMaxIncrements) + 1;
}
