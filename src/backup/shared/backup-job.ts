import type { BackupSelection } from './backup-selection.js';
import type { JobRecord, JobStatus } from '../../jobs/job-record.js';

export { isActive, type JobStatus } from '../../jobs/job-record.js';

/** Who started a backup: a person (`manual`), an app's backup policy (`scheduled`) or a rollback, before it writes (`safety`). */
export type BackupTrigger = 'manual' | 'scheduled' | 'safety';

/** A backup job as stored (job state, not a projection: rebuilds never touch it) and as served. */
export interface BackupJob extends JobRecord {
  id: string;
  appId: string;
  appName: string;
  label: string;
  /** Absent on jobs stored before triggers existed: those were all manual. */
  trigger?: BackupTrigger;
  /** What a partial backup holds; `null` (or absent, on jobs stored before partial backups) for the whole app. */
  include?: BackupSelection | null;
  status: JobStatus;
  created: string;
  createdBy: string;
  started: string | null;
  completed: string | null;
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number;
  sha256: string | null;
  error: string | null;
  warnings: string[];
  /** The store position the app was taken at (absent on jobs stored before rollbacks existed). */
  position?: number;
}

export const archiveKey = (backupId: string) => `backups/${backupId}.zip`;

export const isPartial = (job: { include?: BackupSelection | null }) => Boolean(job.include);

export const triggerOf = (job: { trigger?: BackupTrigger }): BackupTrigger => job.trigger ?? 'manual';
