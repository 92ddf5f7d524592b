import type { JobFaults } from './job-faults.js';
import { type JobProgress, PROGRESS_EVERY_MS } from './job-progress.js';
import { type JobRecord, withLine } from './job-record.js';
import type { JobStore } from './job-store.js';

/** What a run context knows of its kind's runner (JobRunner has these; the port names the context in turn). */
export interface JobRunOwner<J extends JobRecord> {
  readonly kind: string;
  readonly jobs: Pick<JobStore<J>, 'put'>;
  readonly stepNoun?: string;
}

/** A ProgressMeter as the context sees it, whatever the kind's phases. */
export interface JobMeter {
  readonly phase: string;
  enter(phase: string): void;
  complete(done: number): void;
  fail(): void;
  snapshot(): JobProgress;
}

export interface JobSignals {
  /** The job was abandoned: a shutdown that could not wait for it. */
  abandoned: AbortSignal;
  /** The job's slot was lost (its lease expired or was taken over): another process may run it now. */
  lost: AbortSignal;
  /** The server is stopping (or abandoned the job). */
  stopping: AbortSignal;
}

/**
 * What a running job sees of its lifecycle: the job as it stands, its log, one progress throttle,
 * steps (announced, with the test fault hook), what to remember for recovery, and its signals.
 * Every write carries the meter's progress and goes after the one before, so writes land in order
 * even when progress and log lines interleave; one failed write does not stop the later ones (the
 * last state written wins).
 */
export class JobRunContext<J extends JobRecord, S extends string = string> {
  private current: J;
  private meter?: JobMeter;
  private writing: Promise<unknown> = Promise.resolve();
  private readonly ending: (() => unknown)[] = [];
  private lastSaved = 0;
  private savedPhase: string;
  /** Stop at the next step or event: the job was abandoned or lost its slot. */
  readonly signal: AbortSignal;
  readonly lost: AbortSignal;
  readonly stopping: AbortSignal;

  constructor(
    private readonly runner: JobRunOwner<J>,
    job: J,
    private readonly faults: JobFaults,
    signals: JobSignals,
  ) {
    this.current = job;
    this.savedPhase = job.phase;
    this.signal = AbortSignal.any([signals.abandoned, signals.lost]);
    this.lost = signals.lost;
    this.stopping = signals.stopping;
  }

  /** The job as last changed (written, or about to be). */
  get job(): J {
    return this.current;
  }

  /** From now on every write carries this meter's progress. */
  measure<M extends JobMeter>(meter: M): M {
    this.meter = meter;
    return meter;
  }

  /** Writes the patch now (after any write before it), with a line for the job's log. */
  save(patch: Partial<J> = {}, line?: string): Promise<void> {
    return this.write(patch, line);
  }

  /**
   * Progress: written when a phase has started since the last write or PROGRESS_EVERY_MS have
   * passed; otherwise the patch waits for the next write.
   */
  async progress(patch: Partial<J> = {}): Promise<void> {
    if (this.progressDue()) return this.write(patch);
    this.current = { ...this.current, ...patch };
  }

  /** Whether `progress` would write now: loops ask before they work out what to report. */
  progressDue(): boolean {
    return Date.now() - this.lastSaved >= PROGRESS_EVERY_MS || (this.meter !== undefined && this.meter.phase !== this.savedPhase);
  }

  /** A line for the job's log; a line that cannot be written is not worth failing the job for. */
  log(line: string): Promise<void> {
    return this.write({}, line).catch(() => undefined);
  }

  /**
   * Starts a named step: stops if the job was abandoned or lost its slot, enters `phase`, logs
   * `line`, and lets a test fail or hold the job here (JobFaults).
   */
  async step(name: S, announce: { phase?: string; line?: string } = {}): Promise<void> {
    this.signal.throwIfAborted();
    if (announce.phase) this.meter?.enter(announce.phase);
    if (announce.line) await this.log(announce.line);
    await this.fault(name);
  }

  /** The test fault hook alone, for a step that is no phase (opening one archive entry). */
  fault(name: S): Promise<void> {
    return this.faults.check(this.runner.kind, name, this.runner.stepNoun ?? 'step');
  }

  /**
   * Notes something to undo if the job fails (a user a restore creates), written with the job
   * before it returns, so a recovery after a crash finds it too. Note it before doing it.
   */
  remember(key: string, value: string): Promise<void> {
    const cleanup = this.current.cleanup ?? {};
    return this.write({ cleanup: { ...cleanup, [key]: [...(cleanup[key] ?? []), value] } });
  }

  /**
   * Runs `work` once the job has recorded its outcome, whatever it is: to let go of what the run
   * holds (a hold on writes, a renewed reservation, a temporary file) only then.
   */
  onEnd(work: () => unknown): void {
    this.ending.push(work);
  }

  /**
   * For the processor, once the outcome is recorded: what `onEnd` asked for, in order (each runs
   * though one before it failed; the first failure is thrown at the end), then the writes under way.
   */
  async end(): Promise<void> {
    const failures: unknown[] = [];
    for (const work of this.ending) await Promise.resolve().then(work).catch((error: unknown) => failures.push(error));
    await this.writing.catch(() => undefined);
    if (failures.length > 0) throw failures[0];
  }

  /** The meter given to `measure`, if any (the processor fails it when the job fails). */
  get measured(): JobMeter | undefined {
    return this.meter;
  }

  /** For the processor: lifecycle fields (status, times, error) with whatever the runner adds. */
  record(fields: Partial<JobRecord>, patch: Partial<J> = {}, line?: string): Promise<void> {
    return this.write({ ...patch, ...fields }, line);
  }

  private write(patch: Partial<J> | Partial<JobRecord>, line?: string): Promise<void> {
    const next = { ...this.current, ...patch, ...this.meter?.snapshot() };
    this.current = { ...next, ...(line ? withLine(next, line) : {}) };
    this.lastSaved = Date.now();
    this.savedPhase = this.current.phase;
    const snapshot = this.current;
    const write = this.writing.catch(() => undefined).then(() => this.runner.jobs.put(snapshot));
    this.writing = write;
    return write;
  }
}
