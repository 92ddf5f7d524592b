import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppRolledBack } from '../../apps/app.events.js';
import { nameBasedEventId } from '../../infrastructure/event-store/event-ids.js';
import { EVENT_STORE, type EventStore, streams, UncertainWriteError, WrongExpectedVersionError, writesStoredBefore } from '../../infrastructure/event-store/event-store.port.js';
import type { DomainEvent } from '../../eventsourcing/decider.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { LISTED_PER_KIND, type PartialRollback, type RollbackJob } from './rollback-job.js';
import { type RollbackPlan, RollbackPlanner } from './rollback-planner.js';

/** Pauses before sending an unconfirmed write again (about 45 s in all), then it gives up. */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000];
/** Fresh plans after other processes wrote to the app meanwhile, before it gives up. */
const MAX_REPLANS = 3;

interface Write {
  stream: string;
  events: DomainEvent[];
  expectedVersion: number;
  eventIds: string[];
  afterAppend?: () => Promise<void>;
}

export interface RollbackWritten {
  position: number;
  /** Events this rollback stored, across its attempts. */
  appended: number;
}

export interface RollbackWriteHooks {
  /** Called once every write is stored, before the read models are brought up to date. */
  onStored?: (appended: number) => Promise<void>;
  /** Says what the writer does about a failure it gets past (for the job's log). */
  onRetry?: (message: string) => Promise<void>;
  /** Aborts when the server stops: no more attempts, RollbackStoppedError. */
  stop?: AbortSignal;
}

/** The writes stopped part-way and could not be finished: what is stored and what is not. */
export class RollbackIncompleteError extends Error {
  constructor(
    readonly partial: Omit<PartialRollback, 'appEvents' | 'uncertainEvents' | 'recovery'>,
    readonly appended: number,
    /** Events of the failed write, which may be stored when the failure was uncertain. */
    readonly uncertainEvents: number,
    override readonly cause: Error,
  ) {
    super(
      `The rollback was left partly applied: ${partial.writtenStreams} of its ${partial.writtenStreams + partial.remainingStreams} writes (one per stream, the marker last) are stored, ` +
        `the write to ${partial.failedStream} failed (${cause.message})${partial.uncertain ? ' and may or may not be stored' : ''}`,
    );
    this.name = 'RollbackIncompleteError';
  }
}

/** The server stopped while the writes were being finished; the next start finishes them. */
export class RollbackStoppedError extends Error {
  constructor(readonly appended: number) {
    super('The server is stopping while the rollback writes its events; the next start of the server finishes them');
    this.name = 'RollbackStoppedError';
  }
}

/**
 * Writes a planned rollback: its events and the AppRolledBack marker, projected as they land
 * (AppReplays.appendAndProject). On SQLite that is one transaction, all or nothing. On EventStoreDB,
 * which has no transaction across streams, the writes go stream by stream, and a failure part-way
 * is finished by writing on (roll-forward), never left half done and reported as untouched:
 *
 * - every event has an id named after the rollback, its stream, the version it expects and its
 *   place, so a write the server did not confirm (deadline, lost connection, leader change) is sent
 *   again with the same ids and stored once (the server's idempotency rule);
 * - a conflict after some writes are stored (another process wrote to the app meanwhile) plans the
 *   rollback again against the app as it now stands (the streams already rolled back need nothing)
 *   and writes on; a conflict before anything is stored fails cleanly, as on SQLite;
 * - if it still cannot finish, RollbackIncompleteError says exactly what is stored.
 */
@Injectable()
export class RollbackWriter {
  private readonly logger = new Logger(RollbackWriter.name);

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly writer: EventWriter,
    private readonly planner: RollbackPlanner,
    private readonly replays: AppReplays,
  ) {}

  /** Whether the store writes a rollback in one transaction (else stream by stream, finished by roll-forward). */
  get atomic(): boolean {
    return this.store.kind === 'sqlite';
  }

  async write(job: RollbackJob, plan: RollbackPlan, safetyBackupId: string, hooks: RollbackWriteHooks = {}): Promise<RollbackWritten> {
    let appended = 0;
    const result = await this.replays.appendAndProject(job.appId, async () => {
      let writes = this.writesOf(job, plan, safetyBackupId);
      let offset = 0;
      let retries = 0;
      let replans = 0;
      const written: string[] = [];
      const stored = async (done: readonly Write[]) => {
        for (const write of done) {
          written.push(write.stream);
          appended += write.events.length;
          // The events are in: a step's follow-up that fails is reported, never undoes them.
          await write.afterAppend?.().catch((error: unknown) => this.logger.warn(`Rollback ${job.id}: a step after the append failed on ${write.stream}: ${String(error)}`));
        }
      };
      const incomplete = (cause: Error, uncertain: boolean) => {
        const failed = writes[offset];
        return new RollbackIncompleteError(
          {
            writtenStreams: written.length,
            written: written.slice(0, LISTED_PER_KIND),
            failedStream: failed?.stream ?? streams.app(job.appId),
            uncertain,
            remainingStreams: writes.length - offset,
          },
          appended,
          uncertain ? (failed?.events.length ?? 0) : 0,
          cause,
        );
      };
      /** Work between attempts (a log line, a fresh plan): once something is stored, its failure leaves the rollback partly applied. */
      const between = async <T>(work: () => Promise<T>): Promise<T> => {
        try {
          return await work();
        } catch (error) {
          const cause = error instanceof Error ? error : new Error(String(error));
          throw written.length > 0 ? incomplete(cause, false) : cause;
        }
      };
      for (;;) {
        let position: { position: number };
        try {
          position = await this.writer.appendMany(writes.slice(offset), { actor: job.createdBy, appId: job.appId }, { waitForProjections: false });
        } catch (error) {
          if (this.atomic) throw error;
          const cause = error instanceof Error ? error : new Error(String(error));
          await stored(writes.slice(offset, offset + writesStoredBefore(error)));
          offset += writesStoredBefore(error);
          if (hooks.stop?.aborted) throw new RollbackStoppedError(appended);
          if (error instanceof UncertainWriteError && retries < RETRY_DELAYS_MS.length) {
            const delay = RETRY_DELAYS_MS[retries]!;
            retries += 1;
            await between(async () =>
              hooks.onRetry?.(`${cause.message}; sending it again with the same event ids in ${delay} ms (attempt ${retries + 1}), which stores it once whether or not it landed`),
            );
            await sleep(delay, undefined, { signal: hooks.stop }).catch(() => undefined);
            if (hooks.stop?.aborted) throw new RollbackStoppedError(appended);
            continue;
          }
          // Nothing of this rollback is stored: it fails cleanly, as a transaction would.
          if (written.length === 0 && !(error instanceof UncertainWriteError)) throw error;
          if (error instanceof WrongExpectedVersionError && replans < MAX_REPLANS) {
            replans += 1;
            await between(async () =>
              hooks.onRetry?.(`Another process wrote to ${error.stream} while the rollback was writing (${written.length} streams written so far); planning again against the app as it now stands and writing on`),
            );
            plan = await between(() => this.planner.plan(job.appId, job.target.position));
            writes = this.writesOf(job, plan, safetyBackupId);
            offset = 0;
            continue;
          }
          throw incomplete(cause, error instanceof UncertainWriteError);
        }
        await stored(writes.slice(offset));
        await hooks.onStored?.(appended);
        return position;
      }
    });
    return { position: result.position, appended };
  }

  /** The plan's writes and the marker last, each event with an id named after what it is. */
  private writesOf(job: RollbackJob, plan: RollbackPlan, safetyBackupId: string): Write[] {
    const marker: AppRolledBack = {
      type: 'AppRolledBack',
      data: { rollbackId: job.id, targetEvent: job.target.event, backupId: job.target.backupId, safetyBackupId },
    };
    const all = [...plan.writes, { stream: streams.app(job.appId), events: [marker] as DomainEvent[], expectedVersion: plan.appVersion }];
    return all.map((write) => ({
      stream: write.stream,
      events: write.events,
      expectedVersion: write.expectedVersion,
      eventIds: write.events.map((_, i) => nameBasedEventId('rollback', job.id, write.stream, write.expectedVersion, i)),
      ...('afterAppend' in write && write.afterAppend ? { afterAppend: write.afterAppend } : {}),
    }));
  }
}
