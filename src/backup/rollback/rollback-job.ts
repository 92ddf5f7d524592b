import { type Rollback, RollbackChanges as ReportedChanges } from '../../contract/rollbacks.schemas.js';
import type { JobStatus } from '../shared/backup-job.js';
import type { JobProgress, PhasePlan } from '../../jobs/job-progress.js';

/** Per kind of entity, which ones a rollback creates again, changes back or deletes. */
export interface KindChanges {
  created: string[];
  changed: string[];
  deleted: string[];
}

/**
 * Per kind, keyed by the name each kind's rollback facts give it in the report (schemas, contents,
 * assets: see StreamRollback.report in the event catalog).
 */
export type RollbackChanges = Record<string, KindChanges>;

/**
 * The changes as the HTTP contract states them (one entry per kind it names), checked rather than
 * cast: a kind with rollback facts that the contract does not name yet fails loudly here.
 */
export const reportedChanges = (changes: RollbackChanges) => ReportedChanges.parse(changes);

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

/**
 * A rollback whose events were stored only in part and that could not finish them (EventStoreDB
 * writes stream by stream; SQLite's single transaction never leaves one).
 */
export interface PartialRollback {
  /** How many of the plan's writes (one per stream, the marker last) were stored in full. */
  writtenStreams: number;
  /** Those streams, the first LISTED_PER_KIND of them. */
  written: string[];
  /** The write that failed; stored or not is unknown when `uncertain` (the server did not answer). */
  failedStream: string;
  uncertain: boolean;
  /** Writes the plan still had, the failed one and the marker included. */
  remainingStreams: number;
  /**
   * The app's event count when the rollback gave up (plus `uncertainEvents` if the failed write
   * did land, when the store could not be asked): a start-up finishes the rollback only if the app
   * still has that many, so nobody wrote to it since.
   */
  appEvents: number;
  uncertainEvents: number;
  /** What the next start-up made of it; null until one has looked. */
  recovery: null | 'finished' | 'app-changed';
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
  /** Set when the rollback was left partly applied (jobs stored before this field existed lack it). */
  partial?: PartialRollback | null;
}

export const toRollbackView = ({ createdBy: _createdBy, slotToken: _slotToken, ...job }: RollbackJob): Rollback => ({ ...job, changes: job.changes && reportedChanges(job.changes), partial: job.partial ?? null });

/**
 * A rollback's phases and their share of its time: the safety backup and the planning read the
 * whole app; the write is one transaction (SQLite) or one append per stream (EventStoreDB); then
 * the projections catch up.
 */
export type RollbackPhase = 'safety-backup' | 'planning' | 'writing' | 'projecting';
export const ROLLBACK_PHASES: PhasePlan<RollbackPhase> = { 'safety-backup': [0, 40], planning: [40, 85], writing: [85, 90], projecting: [90, 100] };

// Ids listed per kind and change in a report: a number of the contract.
export { LISTED_PER_KIND } from '../../contract/api-values.js';
