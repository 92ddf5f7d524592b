import type { JobProgress } from './job-progress.js';

/**
 * `Interrupted`: a resumable job (a restore) the server stopped under it; it keeps what it holds
 * (a name reservation, its archive) until it is resumed or cancelled. Not active: it holds no slot.
 */
export type JobStatus = 'Scheduled' | 'Running' | 'Completed' | 'Failed' | 'Interrupted';

export interface JobLogLine {
  at: string;
  message: string;
}

/**
 * What every stored job has, whatever its kind (each kind adds its own fields). Jobs are job state,
 * not projections: rebuilds never touch them.
 */
export interface JobRecord extends JobProgress {
  id: string;
  status: JobStatus;
  created: string;
  started: string | null;
  completed: string | null;
  error: string | null;
  /** The lines a person follows; kinds without one (backups) never get one. */
  log?: JobLogLine[];
  /**
   * While the job waits for the process that runs the projections: its slot's token, which that
   * process takes over (see JobHandOff). Never served.
   */
  slotToken?: string | null;
  /** What must be undone if the job fails, by key (JobRunContext.remember). */
  cleanup?: Record<string, string[]>;
}

/** A job's log keeps its last lines only: a restore of a huge app must not grow its job without end. */
export const MAX_LOG_LINES = 2000;

export const isActive = (job: { status: JobStatus }) => job.status === 'Scheduled' || job.status === 'Running';

/**
 * Whether a job has ended as far as someone following it is concerned: Completed, Failed or
 * Interrupted (a resumed restore is followed anew). Every kind's statuses are the one JobStatus,
 * so backups, restores and rollbacks end alike.
 */
export const hasEnded = (job: { status: JobStatus }) => !isActive(job);

/** The job's log with one more line; a job that keeps no log keeps none. */
export function withLine<J extends JobRecord>(job: J, message: string, at = new Date().toISOString()): Pick<JobRecord, 'log'> {
  return job.log ? { log: [...job.log, { at, message }].slice(-MAX_LOG_LINES) } : {};
}

/**
 * A job ended outside a run (settled after its process died, or accepted and never picked up):
 * its outcome, `line` at the end of its log and, when it failed, `error` as its error.
 */
export function endedJob<J extends JobRecord>(job: J, status: 'Completed' | 'Failed', reason: { error?: string; line?: string }): J {
  const at = new Date().toISOString();
  const outcome = status === 'Completed' ? { phase: 'done', percent: 100, error: null } : { phase: 'failed', error: reason.error ?? reason.line ?? null };
  return { ...job, ...outcome, status, etaSeconds: 0, completed: at, ...(reason.line ? withLine(job, reason.line, at) : {}) };
}
