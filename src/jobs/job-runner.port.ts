import type { Claim } from '../infrastructure/name-index/name-index.port.js';
import type { JobRecord } from './job-record.js';
import type { JobRunContext } from './job-run-context.js';
import type { JobCollection, JobStore } from './job-store.js';

/** What a run leaves on its job besides its status: fields to store, and a last line for its log. */
export interface JobOutcome<J extends JobRecord> {
  patch?: Partial<J>;
  line?: string;
}

/**
 * How a failed run ends: Failed with `error` (the default), Completed after all (a rollback whose
 * events were stored), left Running for the next start to settle (a cleanup that failed), or
 * Interrupted (a resumable job the server stopped; `error` says why a resume was refused, if it was).
 */
export type JobEnding<J extends JobRecord> = JobOutcome<J> & ({ status: 'Failed'; error: string } | { status: 'Completed' | 'Running' } | { status: 'Interrupted'; error?: string });

/** For kinds that run where the projections run: what handing a job to that process takes. */
export interface JobHandOffHooks<J extends JobRecord> {
  /** Renewed beside the slot while the job waits to be picked up (a restore's name reservation). */
  renew?(job: J): Promise<unknown>;
  /** The job's error when no process that runs the projections picked it up within `seconds`. */
  notPickedUp(seconds: number): string;
}

/** The slot a job holds while it runs, and what the 409 says when another job holds it. */
export interface JobSlot {
  claim: Claim;
  busy: string;
}

/**
 * One kind of background job (backup, restore, rollback, ...). The JobProcessor owns the
 * lifecycle (slot, Running, outcome, cancellation, hand-off, sweeps, recovery); a runner says
 * what its kind is and does its work. It registers itself with the processor, which gives it its
 * store (`this.jobs = processor.register(this)` in its constructor), so a new kind touches
 * nothing in src/jobs.
 *
 * `S` names the kind's steps, where tests inject failures (JobFaults).
 */
export interface JobRunner<J extends JobRecord, S extends string = string> {
  /** A noun whose plural takes an s ('backup'): logs, messages and JobFaults name the kind by it. */
  readonly kind: string;
  /** The kind's collection in the read store. */
  readonly collection: JobCollection;
  /** Its jobs, in that collection: the store `JobProcessor.register` returned. */
  readonly jobs: JobStore<J>;
  /**
   * The slot a job holds while it runs: a lease in the shared claims, held by the job's id, so
   * "one at a time" holds across processes and a job whose lease is gone belongs to a dead process.
   */
  slot(job: J): JobSlot;
  /**
   * Kinds that replay an app through the projection engine (restores, rollbacks) run in the process
   * that runs the projections; any other process accepts them and hands them over.
   */
  readonly withProjections: boolean;
  /** Required when `withProjections`. */
  readonly handOff?: JobHandOffHooks<J>;
  /**
   * Settled at start-up before the projections catch up rather than after: a restore's half-written
   * app is purged before the catch-up would project it. Rollbacks need the projections to settle.
   */
  readonly settleBeforeCatchUp?: boolean;
  /**
   * Jobs of this kind can stop part-way and continue later (restores): a shutdown interrupts them
   * at once (JobInterruption as the reason of their signal) instead of waiting for them, and their
   * `failed` ends them Interrupted.
   */
  readonly resumable?: boolean;
  /** What the kind calls a step in an injected failure's message; 'step' when absent. */
  readonly stepNoun?: string;
  /** How logs name a job: 'Backup 42 of app shop'. */
  describe(job: J): string;

  /**
   * Does the work, in the process that holds the slot. Resolves with what to store as the job
   * completes (a meter given to `ctx.measure` is completed by then); throws to fail it.
   */
  run(ctx: JobRunContext<J, S>): Promise<JobOutcome<J>>;
  /** What a failed run ends as; absent: Failed with the error's message. */
  failed?(ctx: JobRunContext<J, S>, error: unknown): Promise<JobEnding<J>>;
  /**
   * A job that was accepted and stored but will never run (handing it over failed, or nobody
   * picked it up): undoes what accepting it took and returns it Failed; absent: just Failed.
   */
  failAccepted?(job: J, message: string): Promise<J>;

  /** At start-up, before settling: removes what only a dead run in this process leaves (temporary files, partial archives). */
  atStartUp?(): Promise<void>;
  /**
   * A job found Scheduled or Running whose process died (no live lease holds its slot for it):
   * what it becomes, or undefined when the runner leaves it as it is (to the next start). `stopping`
   * aborts when the server stops.
   */
  settle(job: J, stopping: AbortSignal): Promise<J | undefined>;
  /**
   * After the catch-up, in the process that runs the jobs: continues the jobs left Interrupted
   * (JobProcessor.resume), if the kind resumes them at start-up.
   */
  resumeAtStartUp?(): Promise<void>;
  /** After those, at start-up and on every sweep: jobs the kind settles later (rollbacks left partly applied). Returns how many. */
  revisit?(stopping: AbortSignal): Promise<number>;
}
