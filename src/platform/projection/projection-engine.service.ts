import { setImmediate as nextTurn } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { StoredEvent } from '../../infrastructure/event-store/event-store.port.js';
import { type Checkpoint, READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import type { Projection } from './projection.js';
import { ProjectionTx } from './projection-tx.js';

/**
 * A slice applies events until it has used this much of the main thread, then commits. Together
 * with the commit itself a slice stays well under the ~20 ms the server may block, so requests
 * are answered between slices of even the longest replay.
 */
const SLICE_BUDGET_MS = 6;
/** A slice also ends when it has staged this many documents, which bounds its commit and memory. */
const SLICE_MAX_DOCS = 400;

interface PurgedApp {
  id: string;
}

export interface ReplayOptions {
  /** The app a replay of one app owns; its events are applied although the app is suspended. */
  appId?: string;
  /** The checkpoint committed with each slice, from the position of the slice's last event. */
  checkpoint?: (position: number) => Checkpoint;
  /** Collections whose staged changes are carried from slice to slice and not committed (see Projection.gate). */
  hold?: ReadonlySet<string>;
  /** Held state of an earlier replay of the same app, to carry on from. */
  carry?: ProjectionTx;
  /** Called after each slice is committed, with the last position it covered and how many events it applied. */
  onSlice?: (position: number, applied: number) => void;
}

export interface ReplayResult {
  /** Events applied (events of purged or suspended apps are skipped, not applied). */
  applied: number;
  /** The staged state still held back (with `hold`), to be committed by whoever owns it. */
  held: ProjectionTx;
}

/**
 * The one path by which events become read models: live projection, start-up catch-up, rebuilds
 * and restores all apply events here, in slices. A slice stages every change in memory, writes each
 * touched document (and its full-text row) once, together with the slice's checkpoint, and then
 * gives the event loop a turn. Slices of different replays never interleave (one lock), so a live
 * event and a restore's event never share a unit of work.
 */
@Injectable()
export class ProjectionEngine {
  private readonly projections: Projection[] = [];
  /** Apps that must never have existed (failed restores): their events are never applied. */
  private readonly purged = new Set<string>();
  /** Apps that one replay owns (a restore, a rebuild): the live follower skips their events. */
  private readonly suspended = new Set<string>();
  private readonly purgedApps: ReadCollection<PurgedApp>;
  private lock: Promise<unknown> = Promise.resolve();
  private sealed = false;

  constructor(@Inject(READ_STORE) private readonly readStore: ReadStore) {
    this.purgedApps = readStore.collection<PurgedApp>('purged_apps');
  }

  register(projection: Projection): void {
    if (this.sealed) throw new Error(`Projection ${projection.name} registered after projections started`);
    this.projections.push(projection);
  }

  /** Loads the purged apps; after this no projection may register. */
  async init(): Promise<void> {
    this.sealed = true;
    for await (const app of this.purgedApps.iterate({})) this.purged.add(app.id);
  }

  /** Names of the collections that make apps reachable (see Projection.gate). */
  gates(): ReadonlySet<string> {
    return new Set(this.projections.flatMap((p) => (p.gate ? [p.gate.name] : [])));
  }

  isSuspended(appId: string): boolean {
    return this.suspended.has(appId);
  }

  suspend(appId: string): void {
    if (this.suspended.has(appId)) throw new Error(`App ${appId} is already being replayed`);
    this.suspended.add(appId);
  }

  resume(appId: string): void {
    this.suspended.delete(appId);
  }

  get anySuspended(): boolean {
    return this.suspended.size > 0;
  }

  async markPurged(appId: string): Promise<void> {
    await this.purgedApps.put({ id: appId });
    this.purged.add(appId);
  }

  /**
   * Applies events in slices, committing each (see the class comment). `source` may be an array
   * or a store read; it is read inside the slices, so a read from SQLite counts against the budget.
   */
  async replay(source: AsyncIterable<StoredEvent> | Iterable<StoredEvent>, options: ReplayOptions = {}): Promise<ReplayResult> {
    const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source);
    const hold = options.hold ?? new Set<string>();
    let tx = options.carry ?? new ProjectionTx();
    let applied = 0;
    let done = false;
    try {
      while (!done) {
        const slice = await this.exclusive(async () => {
          const started = performance.now();
          let count = 0;
          let last: number | undefined;
          for (;;) {
            const next = await iterator.next();
            if (next.done) {
              done = true;
              break;
            }
            const event = next.value;
            if (this.applies(event, options.appId)) {
              for (const projection of this.projections) await projection.apply(event, tx);
              count += 1;
            }
            last = event.position;
            if (performance.now() - started >= SLICE_BUDGET_MS || tx.size >= SLICE_MAX_DOCS) break;
          }
          if (last === undefined) return undefined;
          await this.readStore.commit(tx.writes(hold), options.checkpoint?.(last));
          tx = tx.carry(hold);
          return { last, count };
        });
        if (slice) {
          applied += slice.count;
          options.onSlice?.(slice.last, slice.count);
        }
        if (!done) await nextTurn();
      }
    } finally {
      if (!done) await iterator.return?.();
    }
    return { applied, held: tx };
  }

  /** Stages a change (clearing an app, say) and commits it as one slice. */
  async stage(work: (tx: ProjectionTx, projections: readonly Projection[]) => void, checkpoint?: Checkpoint): Promise<void> {
    await this.exclusive(async () => {
      const tx = new ProjectionTx();
      work(tx, this.projections);
      await this.readStore.commit(tx.writes(), checkpoint);
    });
  }

  /** Commits what a replay held back (see ReplayResult.held). Only inside `exclusive`. */
  async commitHeld(held: ProjectionTx): Promise<void> {
    await this.readStore.commit(held.writes());
  }

  /** Serialises slices and staged changes; FIFO, so no replay starves another. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private applies(event: StoredEvent, owner: string | undefined): boolean {
    const appId = event.metadata.appId;
    if (!appId) return true;
    if (this.purged.has(appId)) return false;
    return appId === owner || !this.suspended.has(appId);
  }
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
