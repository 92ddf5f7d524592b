/** Progress is saved (and so streamed) at most this often, and at every change of phase (JobRunContext.progress). */
export const PROGRESS_EVERY_MS = 500;

/** What every job (backup, restore, rollback) says about how far it is, as stored and as served. */
export interface JobProgress {
  /** What the job is doing now; `queued` before it starts, `done` or `failed` after. */
  phase: string;
  /** The job's main work, counted in `unit`; `done` never decreases and reaches `total` on success. */
  progress: { done: number; total: number; unit: 'events' };
  /** Of the whole job, 0 to 100, never decreasing; 100 only once it has completed. */
  percent: number;
  /** Seconds left at the pace so far; null until there is a pace to go by, 0 once ended. */
  etaSeconds: number | null;
}

/** Each phase's share of the whole job, as [from, to] percent, in the order they run. */
export type PhasePlan<P extends string> = Record<P, readonly [number, number]>;

export function queuedProgress(total = 0): JobProgress {
  return { phase: 'queued', progress: { done: 0, total, unit: 'events' }, percent: 0, etaSeconds: null };
}

/**
 * Turns a job's phases and counts into a JobProgress. Percent moves through each phase's share
 * by the fraction of that phase done, so it rises steadily over the whole job instead of jumping
 * back to zero per phase; counts and percent only ever go up.
 */
export class ProgressMeter<P extends string> {
  private current: P | 'done' | 'failed';
  private fraction = 0;
  private done = 0;
  private percent = 0;

  constructor(
    private readonly plan: PhasePlan<P>,
    first: P,
    private total: number,
    private readonly startedAt = Date.now(),
  ) {
    this.current = first;
  }

  get phase(): P | 'done' | 'failed' {
    return this.current;
  }

  /** Starts `phase` (entering the phase it is in changes nothing). */
  enter(phase: P): void {
    if (phase === this.current) return;
    this.settlePercent(1);
    this.current = phase;
    this.fraction = 0;
  }

  /** How much of the current phase is done, 0 to 1. */
  within(fraction: number): void {
    this.fraction = Math.max(this.fraction, Math.min(1, Math.max(0, fraction)));
  }

  /** Counts of the main unit; `done` is clamped so it never exceeds the total or goes back. */
  count(done: number, total = this.total): void {
    this.total = Math.max(total, 0);
    this.done = Math.min(Math.max(this.done, done), this.total);
  }

  /** On success the count is what was done; a point-in-time restore learns its exact total here. */
  complete(done: number): void {
    this.total = done;
    this.done = done;
    this.current = 'done';
    this.percent = 100;
  }

  fail(): void {
    this.current = 'failed';
  }

  snapshot(now = Date.now()): JobProgress {
    const ended = this.current === 'done' || this.current === 'failed';
    const percent = ended ? this.percent : this.settlePercent(this.fraction);
    const elapsed = (now - this.startedAt) / 1000;
    // Below 1% or 1 s the pace says nothing yet.
    const eta = ended ? 0 : percent >= 1 && elapsed >= 1 ? Math.round((elapsed * (100 - percent)) / percent) : null;
    return { phase: this.current, progress: { done: this.done, total: this.total, unit: 'events' }, percent, etaSeconds: eta };
  }

  private settlePercent(fraction: number): number {
    if (this.current === 'done' || this.current === 'failed') return this.percent;
    const [from, to] = this.plan[this.current];
    // Capped below 100 while running: 100 means completed.
    const value = Math.min(99.9, from + (to - from) * fraction);
    this.percent = Math.max(this.percent, Math.floor(value * 10) / 10);
    return this.percent;
  }
}

/** Jobs stored before progress was recorded get the fields their status implies. */
export function progressOf(job: { status: string; eventCount: number } & Partial<JobProgress>): JobProgress {
  if (job.phase !== undefined && job.progress !== undefined && job.percent !== undefined && job.etaSeconds !== undefined) {
    return { phase: job.phase, progress: job.progress, percent: job.percent, etaSeconds: job.etaSeconds };
  }
  const total = job.eventCount;
  switch (job.status) {
    case 'Completed':
      return { phase: 'done', progress: { done: total, total, unit: 'events' }, percent: 100, etaSeconds: 0 };
    case 'Failed':
      return { phase: 'failed', progress: { done: 0, total, unit: 'events' }, percent: 0, etaSeconds: 0 };
    default:
      return queuedProgress(total);
  }
}
