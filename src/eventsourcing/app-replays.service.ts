import { Inject, Injectable, Logger } from '@nestjs/common';
import { EVENT_STORE, type EventStore, type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { ProjectionEngine } from './projection-engine.service.js';
import type { ProjectionTx } from './projection-tx.js';
import { Projector } from './projector.service.js';

/** A restore is appending events that no live read should see; waiting for the follower to skip past them is quick. */
const FOLLOWER_WAIT_MS = 10 * 60_000;

/**
 * What the restore pipeline needs from projections, and nothing more. The new app is suspended:
 * the live follower skips its events while the restore projects them itself, from the events it
 * has just appended, without reading them back. Its gate document (the app's own read model) is
 * held back until `complete`, so the app is unreachable until every read model is built.
 */
export interface RestoreProjection {
  /** Projects events just appended for the app, in order. */
  project(events: readonly StoredEvent[]): Promise<void>;
  /**
   * The position up to which every event projected so far is written to the read store (but what
   * is held back): a restore's journal keeps it, and a resume projects again only what lies after.
   */
  readonly projectedThrough: number;
  /** Writes what was held back and hands the app to the live follower. */
  complete(): Promise<void>;
}

/**
 * Replays of one app on its own: rebuilding one app's projections, projecting a restore as it
 * appends, and purging an app that must never have existed. Each works in the engine's slices,
 * so the rest of the server is served meanwhile.
 */
@Injectable()
export class AppReplays {
  private readonly logger = new Logger(AppReplays.name);

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly engine: ProjectionEngine,
    private readonly projector: Projector,
  ) {}

  /** Whether this process runs the projections, where replays of one app must run. */
  get projects(): boolean {
    return this.projector.projects;
  }

  /** Refuses (409) on a process that does not run the projections: see Projector.assertProjects. */
  assertProjects(what: string): Promise<void> {
    return this.projector.assertProjects(what);
  }

  /**
   * Suspends the app, clears its read models and projects it as the restore goes. If the restore
   * fails, `purgeApp` removes what was projected.
   */
  async openRestore(appId: string, resume?: { projectedThrough: number }): Promise<RestoreProjection> {
    await this.assertProjects('A restore');
    // Batches fed whole, and what the last chunk written covered: a chunk may be written mid-batch, so only batches fed before it count.
    let fedThrough = resume?.projectedThrough ?? 0;
    let projectedThrough = fedThrough;
    const replay = this.engine.begin({ appId, hold: this.engine.gates(), bulk: true, onCommitted: () => void (projectedThrough = fedThrough) });
    let lastPosition = 0;
    if (resume) {
      this.engine.holdForRestore(appId);
      const through = resume.projectedThrough;
      // The gate document was held in the first run's memory: staged again from the app's own stream, up to what that run projected.
      await replay.restageHeld(this.appStreamUpTo(appId, through));
      // What the first run appended after its last chunk was written is projected again (projections are idempotent).
      const store = this.store;
      await replay.feed(
        (async function* () {
          for await (const event of store.readApp(appId, { after: through })) {
            lastPosition = event.position;
            yield event;
          }
        })(),
      );
      fedThrough = Math.max(through, lastPosition);
    } else {
      this.engine.suspend(appId, 'restore');
    }
    return {
      get projectedThrough() {
        return projectedThrough;
      },
      project: async (events) => {
        if (events.length === 0) return;
        lastPosition = Math.max(lastPosition, events[events.length - 1]!.position);
        await replay.feed(events);
        fedThrough = lastPosition;
      },
      complete: async () => {
        await replay.flush();
        // The follower must be past the restored events before it takes the app over, or it would apply them again.
        await this.projector.waitFor(lastPosition, FOLLOWER_WAIT_MS);
        await this.engine.exclusive(async () => {
          await replay.settleLocked();
          this.engine.resume(appId);
        });
      },
    };
  }

  /** An interrupted restore's app stays suspended until the restore resumes or is cancelled (see ProjectionEngine.holdForRestore). */
  holdForRestore(appId: string): void {
    this.engine.holdForRestore(appId);
  }

  private async *appStreamUpTo(appId: string, position: number): AsyncIterable<StoredEvent> {
    for await (const event of this.store.readStream(streams.app(appId))) {
      if (event.position > position) return;
      yield event;
    }
  }

  /**
   * Appends events of one app whose other writes are held (a rollback's) and projects them in bulk,
   * as a restore does, rather than leaving thousands of them to the live follower's small commits.
   * The follower first catches up, so every earlier event of the app is projected; while the app is
   * suspended it skips the new ones, and the last step, under the engine's lock, resumes the app.
   * If `append` fails, whatever it stored is projected all the same (on a store that writes stream
   * by stream, the streams written before the failure), so the read models show what the store
   * holds; then the failure is thrown. If the process dies before that, the follower has moved past
   * events it never applied: the caller rebuilds the app at start-up
   * (RollbackRunner.settle).
   */
  async appendAndProject(appId: string, append: () => Promise<{ position: number }>): Promise<{ position: number }> {
    await this.assertProjects('A rollback');
    const before = await this.store.headPosition();
    await this.projector.waitFor(before, FOLLOWER_WAIT_MS);
    this.engine.suspend(appId, 'rebuild');
    try {
      let result: { position: number } | undefined;
      let failure: unknown;
      try {
        result = await append();
      } catch (error) {
        failure = error;
      }
      try {
        const until = result?.position ?? (await this.store.headPosition());
        const replay = this.engine.begin({ appId, hold: new Set(), bulk: true });
        if (until > before) await replay.feed(this.store.readApp(appId, { after: before, until }));
        await replay.flush();
        await this.projector.waitFor(until, FOLLOWER_WAIT_MS);
        await this.engine.exclusive(async () => {
          await replay.settleLocked();
          this.engine.resume(appId);
        });
      } catch (error) {
        // The follower skipped these events while the app was suspended: rebuild it from its history.
        this.engine.resume(appId);
        this.logger.warn(`Projecting the appended events of app ${appId} failed (${String(error)}); rebuilding the app`);
        try {
          await this.rebuildApp(appId);
        } catch (rebuild) {
          // The store is failing; the start-up after it rebuilds the app (RollbackRunner.settle).
          if (failure === undefined) throw rebuild;
          this.logger.warn(`Rebuilding app ${appId} failed too (${String(rebuild)})`);
        }
      }
      if (failure !== undefined) throw failure;
      return result!;
    } finally {
      this.engine.resume(appId);
    }
  }

  /**
   * Truncates and replays one app's projections. The app is suspended meanwhile (unreachable, its
   * live events skipped); the last step, under the engine's lock, applies what the follower skipped
   * up to its current position and resumes the app, so no event is missed or applied twice.
   */
  async rebuildApp(appId: string): Promise<number> {
    await this.assertProjects("Rebuilding an app's projections");
    this.engine.suspend(appId, 'rebuild');
    try {
      await this.engine.clear((tx, projections) => {
        for (const projection of projections) projection.clearApp(appId, tx);
      });
      const replay = this.engine.begin({ appId, hold: this.engine.gates(), bulk: true });
      await replay.feed(this.store.readApp(appId, { until: this.projector.checkpoint }));
      await replay.flush();
      await this.engine.exclusive(async () => {
        const tail: StoredEvent[] = [];
        for await (const event of this.store.readApp(appId, { after: replay.position, until: this.projector.checkpoint })) tail.push(event);
        await replay.settleLocked(tail);
        this.engine.resume(appId);
      });
      this.logger.log(`Rebuilt the projections of app ${appId} from ${replay.applied} events`);
      return replay.applied;
    } finally {
      this.engine.resume(appId);
    }
  }

  /**
   * Removes one stream that must never have existed (a user a failed restore created): its events,
   * what `clear` stages for its read models, and a tombstone as for apps.
   */
  async purgeStream(stream: string, clear: (tx: ProjectionTx) => void): Promise<void> {
    await this.engine.markStreamPurged(stream);
    await this.store.deleteStream(stream);
    await this.engine.clear((tx) => clear(tx));
  }

  /**
   * Removes every trace of an app that must never have existed (a failed restore): its events, its
   * read models, and a tombstone so stores that keep deleted events until compaction (EventStoreDB's
   * $all) never project them again.
   */
  async purgeApp(appId: string): Promise<void> {
    // Marked first: from here on no replay applies the app's events, so deleting them needs no lock.
    await this.engine.markPurged(appId);
    await this.store.deleteApp(appId);
    await this.engine.clear((tx, projections) => {
      for (const projection of projections) projection.clearApp(appId, tx);
    });
    this.engine.resume(appId);
  }
}
