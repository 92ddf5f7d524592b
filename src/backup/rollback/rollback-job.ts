import type { JobStatus } from '../backup-job.js';
import type { JobProgress, PhasePlan } from '../job-progress.js';

/** Per kind of entity, which ones a rollback creates again, changes back or deletes. */
export interface KindChanges {
  created: string[];
  changed: string[];
  deleted: string[];
}

export interface RollbackChanges {
  schemas: KindChanges;
  contents: KindChanges;
  assets: KindChanges;
}

export interface ChangeCounts {
  created: number;
  changed: number;
  deleted: number;
}

/** The state a rollback brings the app back to. */
export interface RollbackTarget {
  backupId: string | null;
  untilEvent: number | null;
  until: string | null;
  /** The store position the state is taken at: the app's events at or before it. */
  position: number;
  /** The number of the app's last event at or before `position`. */
  event: number;
}

export interface RollbackLogLine {
  at: string;
  message: string;
}

/** A rollback job as stored (job state, never rebuilt) and, without `createdBy`, as served. */
export interface RollbackJob extends JobProgress {
  id: string;
  appId: string;
  appName: string;
  status: JobStatus;
  target: RollbackTarget;
  safetyBackupId: string | null;
  /** Known once planned; listed ids are capped (see LISTED_PER_KIND), the counts are not. */
  changes: RollbackChanges | null;
  counts: ChangeCounts | null;
  appendedEvents: number;
  created: string;
  createdBy: string;
  started: string | null;
  completed: string | null;
  error: string | null;
  log: RollbackLogLine[];
  /** While the job waits for the process that runs the projections: its slot's token, which that process takes over (JobHandOff). Never served. */
  slotToken?: string | null;
}

export const toRollbackView = ({ createdBy: _createdBy, slotToken: _slotToken, ...job }: RollbackJob) => job;

/**
 * A rollback's phases and their share of its time: the safety backup and the planning read the
 * whole app; the write is one transaction; then the projections catch up.
 */
export type RollbackPhase = 'safety-backup' | 'planning' | 'writing' | 'projecting';
export const ROLLBACK_PHASES: PhasePlan<RollbackPhase> = { 'safety-backup': [0, 40], planning: [40, 85], writing: [85, 90], projecting: [90, 100] };

/** Ids listed per kind and change in a report; the counts say how many there are in all. */
export const LISTED_PER_KIND = 1000;
