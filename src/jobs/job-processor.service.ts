import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Projector } from '../eventsourcing/projector.service.js';
import { Lease } from '../infrastructure/name-index/lease.js';
import { claims, describeClaim, NAME_INDEX, type NameIndex, NameUnavailableError } from '../infrastructure/name-index/name-index.port.js';
import { READ_STORE, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { conflict } from '../platform/domain-errors.js';
import { INSTANCE_ID } from '../platform/instance.js';
import { JobFaults } from './job-faults.js';
import { JobHandOff, PICKUP_POLL_MS } from './job-handoff.js';
import { JobInterruption } from './job-interruption.js';
import { endedJob, type JobRecord, withLine } from './job-record.js';
import { JobRunContext } from './job-run-context.js';
import type { JobEnding, JobRunner, JobSlot } from './job-runner.port.js';
import { JobStore } from './job-store.js';

/** What a request adds to a job it submits (JobProcessor.submit). */
export interface JobAdmission<J extends JobRecord> {
  /** Checks the request under the job's slot and completes the job; `here`: whether it will run in this process. Throws to refuse. */
  admit?(job: J, here: boolean): Promise<J>;
  /** Before a job is handed to the process that runs the projections: what it needs, where that process can read it (an upload). */
  beforeHandOff?(job: J): Promise<void>;
}

/** Any kind of runner, as the processor keeps them side by side. */
type AnyRunner = JobRunner<JobRecord>;

interface RunningJob {
  kind: string;
  work: Promise<void>;
  abandon: AbortController;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const now = () => new Date().toISOString();

/**
 * Runs every kind of background job (see JobRunner) the same way:
 *
 * - **Slots.** A job holds its kind's slot (a lease in the shared claims, held by the job's id)
 *   from before it is stored until it has recorded its outcome, so "one at a time" holds across
 *   processes; a holder that has recorded its outcome is about to let go, and taking the slot
 *   waits a moment for it instead of answering 409.
 * - **Runs.** Scheduled → Running → Completed or Failed, through a JobRunContext; the work is
 *   not awaited by the request (it answers 202).
 * - **Hand-off.** Kinds that run where the projections run are accepted by any process; one that
 *   does not project hands them over (JobHandOff), and the one that does picks them up.
 * - **Recovery.** A Scheduled or Running job whose slot no live lease holds belongs to a dead
 *   process: its runner settles it at start-up and on a sweep every lease period.
 * - **Shutdown.** Running jobs are waited for; `abandon` stops them (each cleans up as after a
 *   failure); graceful-shutdown.ts drives both. Resumable kinds (restores) are not waited for:
 *   `interrupt` stops them at once, and they end Interrupted, to be continued by `resume`.
 */
@Injectable()
export class JobProcessor implements OnApplicationShutdown {
  private readonly logger = new Logger(JobProcessor.name);
  private readonly runners: AnyRunner[] = [];
  private readonly running = new Map<string, RunningJob>();
  /** Jobs accepted here and waiting for the projecting process. */
  private readonly waiting = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly handOff: JobHandOff;
  private readonly ttlMs: number;
  private sweeper?: NodeJS.Timeout;
  private pickup?: NodeJS.Timeout;

  constructor(
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(READ_STORE) private readonly readStore: ReadStore,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly projector: Projector,
    private readonly faults: JobFaults,
  ) {
    this.ttlMs = config.nameReservationTtlMs;
    this.handOff = new JobHandOff(names, this.ttlMs);
  }

  /** Called by each runner as it is made, before any job can be requested; returns the store of its jobs. */
  register<J extends JobRecord, S extends string>(runner: JobRunner<J, S>): JobStore<J> {
    if (this.runners.some((other) => other.kind === runner.kind)) throw new Error(`A runner of ${runner.kind} jobs is registered already`);
    if (runner.withProjections && !runner.handOff) throw new Error(`The ${runner.kind} runner runs with the projections, so it must say how its jobs are handed over`);
    this.runners.push(runner);
    return new JobStore<J>(this.readStore, runner.kind, runner.collection);
  }

  /**
   * Takes the slot of `draft`, lets `admit` check the request and complete the job under it
   * (`here`: whether it will run in this process), stores it and starts it, or hands it to the
   * process that runs the projections (after `beforeHandOff`: putting what the job needs where
   * that process can read it). Answers with the job as stored; 409 (`busy`) when the slot is
   * taken. Whatever fails frees the slot; a job already stored is failed (`failAccepted`).
   */
  async submit<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, draft: J, request: JobAdmission<J> = {}): Promise<J> {
    const { claim, busy } = runner.slot(draft);
    const slot = await Lease.acquire(this.names, claim, { ttlMs: this.ttlMs, holder: draft.id, finishing: (holder) => runner.jobs.hasEnded(holder) }).catch((error: unknown) => {
      throw error instanceof NameUnavailableError ? conflict(busy) : error;
    });
    const here = !runner.withProjections || this.projector.projects;
    let accepted: J | undefined;
    try {
      const job = request.admit ? await request.admit(draft, here) : draft;
      await runner.jobs.put(job);
      accepted = job;
      if (here) {
        this.launch(runner, job, slot);
        return job;
      }
      await request.beforeHandOff?.(job);
      const handed: J = { ...job, slotToken: slot.token, ...withLine(job, `Accepted by ${INSTANCE_ID}; handed to the AppVault process that runs the projections`) };
      await runner.jobs.put(handed);
      const waiting = this.awaitPickup(runner, handed, slot);
      this.waiting.add(waiting);
      void waiting.finally(() => this.waiting.delete(waiting));
      return handed;
    } catch (error) {
      await slot.release().catch(() => undefined);
      const stored = accepted;
      if (stored) await this.failAccepted(runner, stored, messageOf(error)).catch((failure: unknown) => this.logger.error(`Could not record that ${runner.describe(stored)} failed: ${String(failure)}`));
      throw error;
    }
  }

  /**
   * Refuses at once (409) while a job that has not ended holds `slot`: for a request that must not
   * do costly work first (reading an upload) only to be refused.
   */
  async assertFree<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, slot: JobSlot): Promise<void> {
    const entry = await this.names.lookup(slot.claim);
    if (entry && !(entry.holder !== undefined && (await runner.jobs.hasEnded(entry.holder)))) throw conflict(slot.busy);
  }

  /** Resolves once job `id` (or, without one, every job) running in this process has recorded its outcome. */
  async settled(id?: string): Promise<void> {
    if (id !== undefined) {
      await this.running.get(id)?.work;
      return;
    }
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((job) => job.work));
  }

  /** How many jobs run in this process, in all and by kind. */
  get runningCount(): number {
    return this.running.size;
  }

  runningByKind(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of this.running.values()) counts.set(job.kind, (counts.get(job.kind) ?? 0) + 1);
    return counts;
  }

  /**
   * Makes every running job stop at its next step with `reason` (each cleans up as after a
   * failure); a rollback still retrying writes the store did not confirm stops retrying, and the
   * next start finishes it.
   */
  abandon(reason: string): void {
    this.stopping.abort();
    for (const job of this.running.values()) job.abandon.abort(this.runnerOf(job.kind)?.resumable ? new JobInterruption(reason) : new Error(reason));
  }

  /**
   * At the start of a shutdown: stops the jobs of resumable kinds at their next step (they end
   * Interrupted, to be resumed); returns how many. Other jobs are left to finish.
   */
  interrupt(reason: string): number {
    let count = 0;
    for (const job of this.running.values()) {
      if (!this.runnerOf(job.kind)?.resumable) continue;
      job.abandon.abort(new JobInterruption(reason));
      count += 1;
    }
    return count;
  }

  /**
   * Runs `work` on an ended job (cancelling an Interrupted restore) while holding its kind's slot,
   * so no run of the kind (a resume of that very job) can start meanwhile; 409 `busy` when taken.
   */
  async underSlot<J extends JobRecord, S extends string, T>(runner: JobRunner<J, S>, job: J, work: () => Promise<T>): Promise<T> {
    const { claim, busy } = runner.slot(job);
    const slot = await Lease.acquire(this.names, claim, { ttlMs: this.ttlMs, holder: job.id, finishing: (holder) => runner.jobs.hasEnded(holder) }).catch((error: unknown) => {
      throw error instanceof NameUnavailableError ? conflict(busy) : error;
    });
    try {
      return await work();
    } finally {
      await slot.release().catch(() => undefined);
    }
  }

  /**
   * Continues an Interrupted job of a resumable kind: takes its kind's slot (409 `busy` when taken)
   * and runs it again in this process (with `patch` of the job as it stands); the runner picks up
   * from what the job recorded. Answers with the job as it starts.
   */
  async resume<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, job: J, line: string, patch: (current: J) => Partial<J> = () => ({})): Promise<J> {
    if (!runner.resumable) throw new Error(`${runner.kind} jobs cannot be resumed`);
    if (job.status !== 'Interrupted') throw conflict(`${runner.describe(job)} is ${job.status}; only an Interrupted one can be resumed`);
    const { claim, busy } = runner.slot(job);
    const slot = await Lease.acquire(this.names, claim, { ttlMs: this.ttlMs, holder: job.id, finishing: (holder) => runner.jobs.hasEnded(holder) }).catch((error: unknown) => {
      throw error instanceof NameUnavailableError ? conflict(busy) : error;
    });
    try {
      // Read again under the slot: a cancel or another resume may have come first.
      const current = await runner.jobs.get(job.id);
      if (current?.status !== 'Interrupted') throw conflict(`${runner.describe(job)} is ${current?.status ?? 'gone'}; only an Interrupted one can be resumed`);
      const resumed: J = { ...current, ...patch(current), status: 'Scheduled', error: null, completed: null, ...withLine(current, line) };
      await runner.jobs.put(resumed);
      this.launch(runner, resumed, slot);
      return resumed;
    } catch (error) {
      await slot.release().catch(() => undefined);
      throw error;
    }
  }

  /**
   * At start-up: settles the jobs a dead process left, kind by kind (see JobRunner.settle). Kinds
   * that run with the projections are settled by the process that runs them: before the catch-up,
   * the one that will (nobody else holds the projector lease); after it, the one that does.
   */
  async recoverInterrupted(stage: 'before-catch-up' | 'after-catch-up'): Promise<void> {
    const before = stage === 'before-catch-up';
    for (const runner of this.runners) {
      if (!before && runner.resumeAtStartUp && (!runner.withProjections || this.projector.projects)) await runner.resumeAtStartUp();
      if ((runner.settleBeforeCatchUp === true) !== before) continue;
      await runner.atStartUp?.();
      if (runner.withProjections && !(before ? await this.willProject() : this.projector.projects)) continue;
      await this.settleAbandoned(runner);
    }
  }

  /** Before the catch-up: whether this process is to run the projections (no live process holds their lease). */
  private async willProject(): Promise<boolean> {
    return (await this.names.lookup(claims.projector())) === undefined;
  }

  /**
   * Every lease period, settles the jobs of processes that died since (only needed when several
   * processes share the stores: with one, start-up did it); in the process that runs the
   * projections, often, picks up the jobs other processes accepted.
   */
  startSweeping(): void {
    this.sweeper ??= setInterval(() => {
      for (const runner of this.runners) {
        if (runner.withProjections && !this.projector.projects) continue;
        void this.settleAbandoned(runner).catch((error: unknown) => this.logger.warn(`Could not check for abandoned ${runner.kind}s: ${String(error)}`));
      }
    }, this.ttlMs);
    this.sweeper.unref();
    this.pickup ??= setInterval(() => {
      if (!this.projector.projects) return;
      void this.pickUp().catch((error: unknown) => this.logger.warn(`Could not look for jobs handed over by other processes: ${String(error)}`));
    }, PICKUP_POLL_MS);
    this.pickup.unref();
  }

  /**
   * Lets running jobs finish (a hard kill is settled at the next start); jobs accepted here and not
   * picked up keep their slots until they expire (see JobHandOff.stop).
   */
  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.sweeper);
    clearInterval(this.pickup);
    this.handOff.stop();
    await Promise.allSettled([...[...this.running.values()].map((job) => job.work), ...this.waiting]);
  }

  /** Runs the job in this process while `slot` holds its place. */
  private launch<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, job: J, slot: Lease): void {
    const abandon = new AbortController();
    const ctx = new JobRunContext<J, S>(runner, job, this.faults, { abandoned: abandon.signal, lost: slot.lost, stopping: AbortSignal.any([this.stopping.signal, abandon.signal]) });
    // The job records its own failure; this only guards against the job store itself failing.
    const work = this.execute(runner, ctx)
      .catch((error: unknown) => this.logger.error(`${runner.describe(job)} could not record its outcome: ${String(error)}; the next start settles it`))
      .finally(async () => {
        this.running.delete(job.id);
        await slot.release().catch((error: unknown) => this.logger.warn(`Could not free ${describeClaim(slot.claim)}: ${String(error)}; it frees itself when its lease expires`));
      });
    this.running.set(job.id, { kind: runner.kind, work, abandon });
  }

  private async execute<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, ctx: JobRunContext<J, S>): Promise<void> {
    try {
      await ctx.record({ status: 'Running', started: now() });
      const outcome = await runner.run(ctx);
      await ctx.record({ status: 'Completed', completed: now() }, outcome.patch, outcome.line);
    } catch (error) {
      const ending: JobEnding<J> = runner.failed ? await runner.failed(ctx, error) : { status: 'Failed', error: messageOf(error) };
      if (ending.status === 'Interrupted') {
        this.logger.warn(`${runner.describe(ctx.job)} is interrupted${ending.error ? `: ${ending.error}` : ''}`);
        // Progress stays where it stopped: a person sees how far the job got.
        await ctx.record({ status: 'Interrupted', completed: now(), error: ending.error ?? null, etaSeconds: null }, ending.patch, ending.line);
      } else if (ending.status === 'Failed') {
        this.logger.error(`${runner.describe(ctx.job)} failed: ${ending.error}`);
        ctx.measured?.fail();
        await ctx.record({ status: 'Failed', completed: now(), error: ending.error, phase: 'failed', etaSeconds: 0 }, ending.patch, ending.line);
      } else {
        await ctx.record(ending.status === 'Completed' ? { status: 'Completed', completed: now() } : {}, ending.patch, ending.line);
      }
    } finally {
      await ctx.end();
    }
  }

  /** In the process that runs the projections: takes over the jobs other processes accepted, and runs them. */
  private async pickUp(): Promise<void> {
    for (const runner of this.runners) {
      if (!runner.withProjections) continue;
      for (const job of (await runner.jobs.find({ status: 'Scheduled' })).items) {
        if (!job.slotToken || this.running.has(job.id)) continue;
        const slot = await this.handOff.takeOver(runner.slot(job).claim, job.slotToken, job.id);
        if (!slot) continue;
        this.logger.log(`${runner.describe(job)}, accepted by another process, is picked up here`);
        this.launch(runner, { ...job, slotToken: null, ...withLine(job, `Picked up by ${INSTANCE_ID}, which runs the projections`) }, slot);
      }
    }
  }

  /** Holds the job's slot (and what the runner renews) until the projecting process picks it up; if none does in time, fails it. */
  private async awaitPickup<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, job: J, slot: Lease): Promise<void> {
    try {
      const renew = runner.handOff?.renew;
      const back = await this.handOff.waitForPickup(job.id, slot, async () => (await runner.jobs.get(job.id))?.status !== 'Scheduled', renew && (() => renew(job)));
      if (!back) return;
      try {
        await this.failAccepted(runner, job, runner.handOff!.notPickedUp(Math.round(this.handOff.waitMs / 1000)));
      } finally {
        await back.release().catch(() => undefined);
      }
    } catch (error) {
      this.logger.error(`${runner.describe(job)}, accepted here, could not be handed over: ${String(error)}; it is settled once its slot expires`);
    }
  }

  private async failAccepted<J extends JobRecord, S extends string>(runner: JobRunner<J, S>, job: J, message: string): Promise<void> {
    const failed = runner.failAccepted ? await runner.failAccepted(job, message) : { ...endedJob(job, 'Failed', { error: message, line: message }), slotToken: null };
    await runner.jobs.put(failed);
  }

  private runnerOf(kind: string): AnyRunner | undefined {
    return this.runners.find((runner) => runner.kind === kind);
  }

  /** The Scheduled and Running jobs of a kind whose slot no live lease holds for them: their process died. */
  private async settleAbandoned<J extends JobRecord, S extends string>(runner: JobRunner<J, S>): Promise<number> {
    let settled = 0;
    for (const status of ['Scheduled', 'Running'] as const) {
      for (const job of (await runner.jobs.find({ status })).items) {
        if ((await this.names.lookup(runner.slot(job).claim))?.holder === job.id) continue;
        const outcome = await runner.settle(job, this.stopping.signal);
        if (outcome) await runner.jobs.put(outcome);
        settled += 1;
      }
    }
    settled += (await runner.revisit?.(this.stopping.signal)) ?? 0;
    if (settled > 0) this.logger.warn(`Settled ${settled} interrupted ${runner.kind}(s)`);
    return settled;
  }
}
