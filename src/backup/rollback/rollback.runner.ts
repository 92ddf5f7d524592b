import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppRolledBack } from '../../apps/app.events.js';
import { EVENT_STORE, type EventStore, streams, WrongExpectedVersionError } from '../../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { ProgressMeter } from '../../jobs/job-progress.js';
import { endedJob } from '../../jobs/job-record.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import type { JobEnding, JobHandOffHooks, JobOutcome, JobRunner } from '../../jobs/job-runner.port.js';
import type { JobStore } from '../../jobs/job-store.js';
import { BackupsService } from '../create/backups.service.js';
import { AppJobRunner } from '../shared/app-job.runner.js';
import { type PartialRollback, ROLLBACK_PHASES, type RollbackJob, type RollbackPhase } from './rollback-job.js';
import { type RollbackPlan, RollbackPlanner } from './rollback-planner.js';
import { RollbackIncompleteError, RollbackStoppedError, RollbackWriter } from './rollback-writer.js';

/** A rollback as it runs. */
type RollbackRun = JobRunContext<RollbackJob>;

/**
 * Rollback jobs (see JobRunner): in order, writes to the app are held (409), a safety backup is
 * taken, the domain modules plan their steps (RollbackPlanner), and every event is appended with an
 * AppRolledBack marker (RollbackWriter): in one transaction on SQLite, so a rollback whose process
 * dies is either wholly there or not at all; stream by stream on EventStoreDB, where a failure
 * part-way is finished by writing on, and a rollback that still cannot finish says exactly what is
 * stored. One rollback per app at a time (the app's rollback slot, which also holds the app's
 * writes in every other process: see EventWriter); it projects its own events, so it runs in the
 * process that runs the projections.
 */
@Injectable()
export class RollbackRunner extends AppJobRunner<RollbackJob> implements JobRunner<RollbackJob> {
  private readonly logger = new Logger(RollbackRunner.name);
  readonly kind = 'rollback';
  protected readonly slotOf = claims.rollbackSlot;
  readonly collection = { name: 'rollback_jobs', indexes: [['appId', 'created'], 'status'] };
  readonly withProjections = true;
  readonly jobs: JobStore<RollbackJob>;
  readonly handOff: JobHandOffHooks<RollbackJob> = {
    notPickedUp: (seconds) =>
      `No AppVault process that runs the projections picked this rollback up within ${seconds} s; nothing was changed. Check that one runs (GET /health on each process) and start the rollback again.`,
  };

  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    private readonly backups: BackupsService,
    private readonly planner: RollbackPlanner,
    private readonly writer: EventWriter,
    private readonly rollbackWriter: RollbackWriter,
    private readonly replays: AppReplays,
    processor: JobProcessor,
  ) {
    super();
    this.jobs = processor.register(this);
  }

  async run(ctx: RollbackRun): Promise<JobOutcome<RollbackJob>> {
    const job = ctx.job;
    const app = { id: job.appId, name: job.appName };
    // Refused in this process until the job has ended; other processes see the slot (EventWriter).
    ctx.onEnd(this.writer.holdWrites(app.id, `App "${app.name}" is being rolled back (rollback ${job.id}); writes to it are refused until the rollback has finished. Try again in a moment.`));
    // The total is the app's events as planned; a failure to count shows as a failed job.
    const meter = ctx.measure(new ProgressMeter<RollbackPhase>(ROLLBACK_PHASES, 'safety-backup', 0));
    meter.count(0, await this.events.countApp(app.id, await this.events.headPosition()));
    await ctx.save();
    const safety = await this.backups.schedule(app, { label: `Safety backup before rollback ${job.id}`, actor: job.createdBy, trigger: 'safety', limit: false });
    await ctx.save({ safetyBackupId: safety.id }, `Taking a safety backup of the app as it is now (${safety.id})`);
    await this.backups.settled(safety.id);
    const backup = await this.backups.get(safety.id);
    if (backup.status !== 'Completed') throw new Error(`The safety backup ${safety.id} failed (${backup.error ?? 'no reason given'}); nothing was changed`);
    ctx.lost.throwIfAborted();

    meter.enter('planning');
    await ctx.save({}, `Safety backup ${safety.id} completed (${backup.eventCount} events); working out what to change`);
    const plan = await this.planner.plan(app.id, job.target.position, async (fraction) => {
      meter.within(fraction);
      await ctx.progress();
    });
    await ctx.save({ changes: plan.changes, counts: plan.counts }, summary(plan));
    ctx.lost.throwIfAborted();

    meter.enter('writing');
    const how = this.rollbackWriter.atomic
      ? 'in one transaction'
      : `to ${plan.writes.length + 1} streams, stream by stream (EventStoreDB has no transaction across streams; a failure part-way is finished by writing on)`;
    await ctx.save({}, `Appending ${plan.events + 1} events ${how}`);
    const written = await this.rollbackWriter.write(job, plan, safety.id, {
      stop: ctx.stopping,
      onRetry: (message) => ctx.save({}, message),
      onStored: async (count) => {
        meter.enter('projecting');
        await ctx.save({ appendedEvents: count }, 'Events appended; updating the read models');
      },
    });
    meter.complete(meter.snapshot().progress.total);
    this.logger.log(`Rollback ${job.id} of app ${app.name} completed: ${written.appended} events appended`);
    return { line: `Rollback complete: the app is as it was at event ${job.target.event}` };
  }

  async failed(ctx: RollbackRun, error: unknown): Promise<JobEnding<RollbackJob>> {
    const meter = ctx.measured;
    const total = meter?.snapshot().progress.total ?? 0;
    if (meter?.phase === 'projecting') {
      // The events are in and will be projected; only the wait for the read models gave up.
      meter.complete(total);
      return { status: 'Completed', line: `Rollback complete; the read models are still catching up (${String(error)})` };
    }
    // Left Running in its writing phase: the next start finishes it (settle).
    if (error instanceof RollbackStoppedError) return { status: 'Running', patch: { appendedEvents: error.appended }, line: error.message };
    if (error instanceof RollbackIncompleteError) {
      const partial = await this.partialOf(ctx.job.appId, error, total);
      const message = `${error.message}. The app is between its state before the rollback and the one wanted; its read models show what is stored. The next start of the server finishes the rollback if nobody writes to the app meanwhile; or start a rollback again.`;
      return { status: 'Failed', error: message, patch: { appendedEvents: error.appended, partial }, line: `Rollback stopped part-way: ${message}` };
    }
    // Anything else failed before a single event of the rollback was stored.
    const message =
      error instanceof WrongExpectedVersionError
        ? 'The app changed while the rollback was being planned; nothing was changed. Start the rollback again.'
        : error instanceof Error
          ? error.message
          : String(error);
    return { status: 'Failed', error: message, line: `Rollback failed: ${message}` };
  }

  /**
   * A rollback whose process died is complete when its AppRolledBack marker is in the app's
   * stream. One that died while writing is finished now: planned again against the app as it stands
   * and appended, so where a store writes streams one by one (EventStoreDB) the ones already written
   * are not written twice. One that died before writing left the app as it was.
   */
  async settle(job: RollbackJob, stopping: AbortSignal): Promise<RollbackJob | undefined> {
    if (await this.markerWritten(job)) {
      // Its events were projected by the rollback itself, which may not have finished.
      await this.replays.rebuildApp(job.appId);
      return endedJob(job, 'Completed', { line: 'The server stopped right after the rollback wrote its events; the rollback is complete' });
    }
    if (job.phase === 'writing' && job.safetyBackupId) return this.finishWriting(job, 'The server stopped while the rollback was writing', stopping);
    return { ...endedJob(job, 'Failed', { line: 'The server stopped during this rollback before it changed anything; the app is as it was. Start the rollback again.' }), slotToken: null };
  }

  /**
   * A rollback that was left partly applied (EventStoreDB) is finished if nobody wrote to the app
   * since; either way the app's read models are rebuilt.
   */
  async revisit(stopping: AbortSignal): Promise<number> {
    let revisited = 0;
    for (const job of (await this.jobs.find({ status: 'Failed' })).items) {
      if (!job.partial || job.partial.recovery !== null || !job.safetyBackupId) continue;
      if ((await this.names.lookup(claims.rollbackSlot(job.appId)))?.holder) continue;
      const now = await this.events.countApp(job.appId, await this.events.headPosition());
      const unchanged = now === job.partial.appEvents || now === job.partial.appEvents + job.partial.uncertainEvents;
      let outcome: RollbackJob | undefined;
      if (await this.markerWritten(job)) {
        await this.replays.rebuildApp(job.appId);
        outcome = { ...endedJob(job, 'Completed', { line: 'The write the rollback could not confirm had stored its marker after all; the rollback is complete' }), partial: { ...job.partial, recovery: 'finished' } };
      } else if (unchanged) {
        outcome = await this.finishWriting(job, 'The rollback was left partly applied and nobody wrote to the app since', stopping);
      } else {
        await this.replays.rebuildApp(job.appId);
        const message = `The app changed since this rollback was left partly applied (${now} events now, ${job.partial.appEvents} then), so it is not finished automatically; start a rollback again to bring the app to the state wanted`;
        outcome = { ...job, partial: { ...job.partial, recovery: 'app-changed' }, log: [...job.log, { at: new Date().toISOString(), message }] };
      }
      if (outcome) await this.jobs.put(outcome);
      revisited += 1;
    }
    return revisited;
  }

  /** The writing step of a rollback that did not finish it, done again from a fresh plan; undefined when the server is stopping again. */
  private async finishWriting(job: RollbackJob, why: string, stopping: AbortSignal): Promise<RollbackJob | undefined> {
    try {
      const plan = await this.planner.plan(job.appId, job.target.position);
      const { appended } = await this.rollbackWriter.write(job, plan, job.safetyBackupId!, { stop: stopping });
      // Streams a store wrote one by one before the crash were skipped by the follower: rebuild.
      await this.replays.rebuildApp(job.appId);
      const message = `${why}; it was finished at start-up (${appended} more events appended)`;
      return { ...endedJob(job, 'Completed', { line: message }), appendedEvents: job.appendedEvents + appended, ...(job.partial ? { partial: { ...job.partial, recovery: 'finished' as const } } : {}) };
    } catch (error) {
      // The server is stopping again: the job stays as it is, for the next start.
      if (error instanceof RollbackStoppedError) return undefined;
      await this.replays.rebuildApp(job.appId).catch((rebuild: unknown) => this.logger.warn(`Could not rebuild app ${job.appId}: ${String(rebuild)}`));
      if (error instanceof RollbackIncompleteError) {
        const partial = await this.partialOf(job.appId, error, job.partial ? job.partial.appEvents + job.partial.uncertainEvents : job.progress.total);
        const message = `${why}, and finishing it at start-up stopped part-way: ${error.message}. The next start tries again if nobody writes to the app meanwhile; or start a rollback again.`;
        return { ...endedJob(job, 'Failed', { line: message }), appendedEvents: job.appendedEvents + error.appended, partial };
      }
      const reason = error instanceof Error ? error.message : String(error);
      const partly = job.partial ? 'The rollback stays partly applied. ' : '';
      return endedJob(job, 'Failed', { line: `${why}, and finishing it at start-up failed (${reason}). ${partly}Check the app and start the rollback again.` });
    }
  }

  /**
   * What a rollback left partly applied holds, with the app's event count to tell later whether
   * anyone wrote to it since: asked of the store, or, if it does not answer, the count before the
   * writes (`before`) plus what was stored and, perhaps, the unconfirmed write.
   */
  private async partialOf(appId: string, error: RollbackIncompleteError, before: number): Promise<PartialRollback> {
    try {
      return { ...error.partial, appEvents: await this.events.countApp(appId, await this.events.headPosition()), uncertainEvents: 0, recovery: null };
    } catch {
      return { ...error.partial, appEvents: before + error.appended, uncertainEvents: error.uncertainEvents, recovery: null };
    }
  }

  private async markerWritten(job: RollbackJob): Promise<boolean> {
    for await (const stored of this.events.readStream(streams.app(job.appId))) {
      if (stored.type === 'AppRolledBack' && (stored.data as AppRolledBack['data']).rollbackId === job.id) return true;
    }
    return false;
  }
}

function summary(plan: RollbackPlan): string {
  const { created, changed, deleted } = plan.counts;
  if (created + changed + deleted === 0) return 'Nothing to change: the app is as it was then; the rollback is recorded in its history';
  return `To bring back: ${created} created again, ${changed} changed back, ${deleted} deleted (${plan.events} events)`;
}
