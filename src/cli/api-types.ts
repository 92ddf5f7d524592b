/**
 * What the CLI reads from the HTTP API (docs/api.md): the server's own view types, so the two
 * cannot drift. Progress fields (`phase`, `progress`, `percent`, `etaSeconds`) are optional: an
 * older server lacks them.
 */
import type { AppView } from '../apps/apps.http.controller.js';
import type { BackupJob, JobStatus } from '../backup/shared/backup-job.js';
import type { BackupSelection } from '../backup/shared/backup-selection.js';
import type { JobProgress } from '../jobs/job-progress.js';
import type { RestoreView } from '../backup/restore/restore-job.js';
import type { RollbackJob } from '../backup/rollback/rollback-job.js';
import type { RollbackPreflight } from '../contract/rollbacks.schemas.js';

export type { BackupSelection, JobStatus };
export type { KindChanges, RollbackChanges, RollbackTarget } from '../backup/rollback/rollback-job.js';

/** The server's own shapes; an older server may lack the progress fields. */
type MaybeWithProgress<T> = Omit<T, keyof JobProgress> & Partial<JobProgress>;

export interface Page<T> {
  total: number;
  items: T[];
}

export type App = AppView;
/** `partial` is served beside `include`; a server from before partial backups sends neither. */
export type Backup = MaybeWithProgress<Omit<BackupJob, 'createdBy'>> & { partial?: boolean };
export type Restore = MaybeWithProgress<RestoreView>;
export type Rollback = MaybeWithProgress<Omit<RollbackJob, 'createdBy'>>;
export type RollbackDryRun = RollbackPreflight;

export interface BackupLink {
  id: string;
  url: string;
  expires: string;
}

export interface ApiErrorBody {
  statusCode?: number;
  error?: string;
  message?: string | string[];
}

export const isEnded = (job: { status: JobStatus }) => job.status === 'Completed' || job.status === 'Failed';
