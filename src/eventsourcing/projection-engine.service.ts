import { setImmediate as nextTurn } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore, type StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import { SYSTEM_ACTOR } from '../auth/principal.js';
import { type Checkpoint, type CollectionWrite, type Fence, READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { EventCatalog } from './event-catalog.service.js';
import type { Projection } from './projection.js';
import { PURGES_STREAM, type PurgeEvent, purgeStream } from './purge.events.js';
import { ProjectionTx } from './projection-tx.js';

/**
 * A slice applies events until it has used this much of the main thread, then gives the event
 * loop a turn; its commit (live mode) stays small too, so requests are answered between slices of
 * even the longest replay, well within the ~20 ms the server may block.
 */
const SLICE_BUDGET_MS = 6;
/** Live mode: a slice also ends once it has staged this many documents. */
const SLICE_MAX_DOCS = 200;
/** Bulk mode: staged documents are written once this many have gathered (bounds memory). */
const CHUNK_MAX_DOCS = 5000;
/**
 * Bulk mode: a chunk is also written (with the checkpoint) after this many events or this much
 * time, whichever comes first, so a long replay over few documents still saves its progress: a
 * replay killed part-way resumes from its last chunk, not from where it began.
 */
const CHUNK_MAX_EVENTS = 10_000;
const CHUNK_MAX_MS = 2000;
/** Bulk mode: a chunk is written in commits of this many changes, with a turn of the event loop between. */
const COMMIT_MAX_CHANGES = 64;
/** Documents a clear removes per commit. */
const CLEAR_STEP = 300;

interface PurgedApp {
  id: string;
}

export interface ReplayOptions {
  /** The app a replay of one app owns; its events are applied although the app is suspended. */
  appId?: string;
  /** The checkpoint this replay moves (the live follower's); written with the replay's commits. */
  checkpoint?: string;
  /**
   * Collections whose staged changes are held back until `settle` (see Projection.gate), so the
   * app a replay builds stays unreachable until it is complete.
   */
  hold?: ReadonlySet<string>;
  /**
   * Live (default): every slice is committed at once, with the checkpoint, in one transaction, so
   * a command's change shows as soon as possible. Bulk (catch-up, rebuilds, restores): slices stage
   * into one chunk of up to CHUNK_MAX_DOCS documents (or CHUNK_MAX_EVENTS events, or CHUNK_MAX_MS
   * of replay), each document written once when the chunk is full, in short commits; the
   * checkpoint goes with the last of them. A crash in between leaves documents
   * ahead of the checkpoint, and the events since are applied again, which rewrites them with
   * the same values (projections set state from events).
   */
  bulk?: boolean;
  /**
   * Live mode with a checkpoint: asked at each commit that moves the replay on, with the events it
   * applied, whether the checkpoint goes with it (see CheckpointRule); without it, always. Bulk
   * mode saves it with the last commit of every chunk.
   */
  saveCheckpoint?: (applied: number) => boolean;
  /** Called after each commit that moved the replay on: the last position covered, events applied since the last call, whether the checkpoint was saved. */
  onCommitted?: (position: number, applied: number, saved: boolean) => void;
  /** Checked between slices: true stops the replay where it is (the server is shutting down). */
  cancelled?: () => boolean;
}

/**
 * One replay in progress: feed it events (an array or a store read), then `flush` or `settle`.
 * Created by ProjectionEngine.begin.
 */
export class Replay {
  private tx = new ProjectionTx();
  private last = 0;
  private committed = 0;
  private pendingApplied = 0;
  /** Bulk mode: events seen, and when the chunk began, since the last flush. */
  private chunkEvents = 0;
  private chunkStarted = performance.now();
  /** Events applied so far (events of purged or suspended apps are skipped, not applied). */
  applied = 0;

  constructor(
    private readonly engine: ProjectionEngine,
    private readonly options: ReplayOptions,
  ) {}

  /** The position of the last event seen (applied or skipped). */
  get position(): number {
    return this.last;
  }

  async feed(source: AsyncIterable<StoredEvent> | Iterable<StoredEvent>): Promise<void> {
    const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source);
    const live = !this.options.bulk;
    let done = false;
    try {
      while (!done) {
        await this.engine.exclusive(async () => {
          const started = performance.now();
          for (;;) {
            const next = await iterator.next();
            if (next.done) {
              done = true;
              break;
            }
            if (this.engine.applies(next.value, this.options.appId)) {
              await this.engine.applyEvent(next.value, this.tx);
              this.applied += 1;
              this.pendingApplied += 1;
            }
            this.last = next.value.position;
            this.chunkEvents += 1;
            if (performance.now() - started >= SLICE_BUDGET_MS || this.tx.size >= (live ? SLICE_MAX_DOCS : CHUNK_MAX_DOCS)) break;
          }
          if (live) {
            await this.commitLocked(this.tx.writes(this.hold));
            // What the slice wrote is in the store now: the next slice starts empty, or it would
            // write those documents again and end after one event once the slice's limit is reached.
            this.tx = this.tx.carry(this.hold);
          }
        });
        if (!live && this.chunkFull()) await this.flush();
        if (this.options.cancelled?.()) break;
        if (!done) await nextTurn();
      }
    } finally {
      if (!done) await iterator.return?.();
    }
  }

  /** Moves the replay on to `position` without events (they were skipped upstream); live mode commits the checkpoint. */
  async skipTo(position: number): Promise<void> {
    if (position <= this.last) return;
    this.last = position;
    if (!this.options.bulk) await this.engine.exclusive(() => this.commitLocked([]));
  }

  private chunkFull(): boolean {
    return this.tx.size >= CHUNK_MAX_DOCS || this.chunkEvents >= CHUNK_MAX_EVENTS || performance.now() - this.chunkStarted >= CHUNK_MAX_MS;
  }

  /** Writes what is staged (but what is held), in short commits; the checkpoint goes with the last. */
  async flush(): Promise<void> {
    this.chunkEvents = 0;
    this.chunkStarted = performance.now();
    const writes = this.tx.writes(this.hold);
    this.tx = this.tx.carry(this.hold);
    const parts = splitWrites(writes, COMMIT_MAX_CHANGES);
    for (let i = 0; i < parts.length - 1; i++) {
      await this.engine.exclusive(() => this.engine.commit(parts[i]!));
      await nextTurn();
    }
    await this.engine.exclusive(() => this.commitLocked(parts.at(-1) ?? []));
  }

  /**
   * Only inside ProjectionEngine.exclusive: applies the last few events and commits them with
   * everything still staged, held changes included, in one transaction. Flush first, so that
   * what is left is small.
   */
  async settleLocked(events: readonly StoredEvent[] = []): Promise<void> {
    for (const event of events) {
      if (this.engine.applies(event, this.options.appId)) {
        await this.engine.applyEvent(event, this.tx);
        this.applied += 1;
        this.pendingApplied += 1;
      }
      this.last = event.position;
    }
    const writes = this.tx.writes();
    this.tx = new ProjectionTx();
    await this.commitLocked(writes);
  }

  /**
   * A resumed restore: stages again the held documents (the app's gate document) its first run kept
   * in memory, from `events` (the app's events that run had projected), applying them to the gate
   * projections only: every other document of theirs is in the store already.
   */
  async restageHeld(events: AsyncIterable<StoredEvent>): Promise<void> {
    await this.engine.exclusive(async () => {
      for await (const event of events) if (this.engine.applies(event, this.options.appId)) await this.engine.applyEvent(event, this.tx, true);
    });
  }

  private get hold(): ReadonlySet<string> {
    return this.options.hold ?? NO_HOLD;
  }

  private async commitLocked(writes: readonly CollectionWrite[]): Promise<void> {
    const moved = this.last > this.committed;
    const save = moved && this.options.checkpoint !== undefined && (this.options.bulk || (this.options.saveCheckpoint?.(this.pendingApplied) ?? true));
    const checkpoint = save ? { name: this.options.checkpoint!, position: this.last } : undefined;
    if (writes.length > 0 || checkpoint) await this.engine.commit(writes, checkpoint);
    if (moved) this.report(save);
  }

  private report(saved: boolean): void {
    this.committed = this.last;
    const applied = this.pendingApplied;
    this.pendingApplied = 0;
    this.options.onCommitted?.(this.last, applied, saved);
  }
}

const NO_HOLD: ReadonlySet<string> = new Set();

/**
 * The one path by which events become read models: live projection, start-up catch-up, rebuilds
 * and restores all apply events through a Replay, in slices. A slice stages every change in
 * memory (ProjectionTx) and gives the event loop a turn when its budget is spent; documents are
 * written once per slice (live) or per chunk (bulk). Slices of different replays never interleave
 * (one lock), so a live event and a restore's event never share a unit of work.
 */
@Injectable()
export class ProjectionEngine {
  private readonly projections: Projection[] = [];
  /** Apps that must never have existed (failed restores): their events are never applied. */
  private readonly purged = new Set<string>();
  /**
   * Apps that one replay owns: the live follower does not apply their events. A restore is the only
   * writer of its app, so the follower may drop that app's events as it reads them; during a rebuild
   * others may write, so those events reach the lock and are left out there, where the rebuild's
   * last step sees them.
   */
  private readonly suspended = new Map<string, 'restore' | 'rebuild'>();
  private readonly purgedApps: ReadCollection<PurgedApp>;
  /** Single streams that must never have existed (users a failed restore created). */
  private readonly purgedStreams = new Set<string>();
  private readonly purgedStreamDocs: ReadCollection<PurgedApp>;
  private lock: Promise<unknown> = Promise.resolve();
  private sealed = false;
  /**
   * The fencing token of this process's turn at projecting (see Projector): every commit of the
   * engine carries it, so once another process has taken the projections over, nothing this one
   * still has under way is written. Unset in a process that never projected.
   */
  fence?: Fence;

  constructor(
    @Inject(READ_STORE) readonly readStore: ReadStore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly catalog: EventCatalog,
  ) {
    this.purgedApps = readStore.collection<PurgedApp>('purged_apps');
    this.purgedStreamDocs = readStore.collection<PurgedApp>('purged_streams');
    catalog.register(purgeStream);
  }

  register(projection: Projection): void {
    if (this.sealed) throw new Error(`Projection ${projection.name} registered after projections started`);
    this.projections.push(projection);
  }

  /** Loads what was purged, from the read store and from the record in the event store; after this no projection may register. */
  async init(): Promise<void> {
    this.sealed = true;
    await this.loadPurged();
  }

  /**
   * Reads what was purged again: a process that takes the projections over from another must know
   * the apps that process purged since this one started.
   */
  async loadPurged(): Promise<void> {
    for await (const app of this.purgedApps.iterate({})) this.purged.add(app.id);
    for await (const stream of this.purgedStreamDocs.iterate({})) this.purgedStreams.add(stream.id);
    for await (const stored of this.store.readStream(PURGES_STREAM)) {
      const event = this.catalog.upcast(stored);
      if (event.type === 'AppPurged') this.purged.add(String(event.data['appId']));
      else if (event.type === 'StreamPurged') this.purgedStreams.add(String(event.data['stream']));
    }
  }

  begin(options: ReplayOptions = {}): Replay {
    return new Replay(this, options);
  }

  /** Names of the collections that make apps reachable (see Projection.gate). */
  gates(): ReadonlySet<string> {
    return new Set(this.projections.flatMap((p) => (p.gate ? [p.gate.name] : [])));
  }

  suspend(appId: string, by: 'restore' | 'rebuild'): void {
    if (this.suspended.has(appId)) throw new Error(`App ${appId} is already being replayed`);
    this.suspended.set(appId, by);
  }

  /**
   * An interrupted restore's app stays suspended across restarts (suspended before the catch-up,
   * so the follower never projects it half-written); resuming it finds it suspended already.
   */
  holdForRestore(appId: string): void {
    if (this.suspended.get(appId) !== 'restore') this.suspend(appId, 'restore');
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
    await this.record({ type: 'AppPurged', data: { appId } });
  }

  async markStreamPurged(stream: string): Promise<void> {
    await this.purgedStreamDocs.put({ id: stream });
    this.purgedStreams.add(stream);
    await this.record({ type: 'StreamPurged', data: { stream } });
  }

  private async record(event: PurgeEvent): Promise<void> {
    this.catalog.prepare(event);
    await this.store.append(PURGES_STREAM, [{ type: event.type, data: event.data, metadata: { actor: SYSTEM_ACTOR, timestamp: new Date().toISOString(), schemaVersion: this.catalog.versionOf(event.type) } }], 'any');
  }

  /**
   * Clears read models (one app's, or all of them) and then commits the checkpoint, if given.
   * Filtered removals go a few hundred documents per commit, each under the lock with a turn of the
   * event loop between, since removing a large app's documents and their full text takes seconds.
   */
  async clear(work: (tx: ProjectionTx, projections: readonly Projection[]) => void, checkpoint?: { name: string; position: number }): Promise<void> {
    const tx = new ProjectionTx();
    work(tx, this.projections);
    for (const write of tx.writes()) {
      for (const change of write.changes) {
        const filter = 'deleteWhere' in change ? change.deleteWhere : undefined;
        if (!filter || Object.keys(filter).length === 0) {
          // A whole collection empties at once (SQLite truncates it), and so does a single document.
          await this.exclusive(() => this.commit([{ collection: write.collection, changes: [change] }]));
          continue;
        }
        const collection = this.readStore.collection(write.collection);
        for (;;) {
          await this.exclusive(() => this.commit([{ collection: write.collection, changes: [{ deleteWhere: filter, limit: CLEAR_STEP }] }]));
          if ((await collection.count(filter)) === 0) break;
          await nextTurn();
        }
      }
    }
    if (checkpoint) await this.exclusive(() => this.commit([], checkpoint));
  }

  /** Every write of the engine goes here: with the fence of this process's turn at projecting, if any. */
  commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint): Promise<void> {
    return this.readStore.commit(writes, checkpoint, this.fence);
  }

  /** Serialises slices and staged changes; FIFO, so no replay starves another. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Events of this app may be dropped as the live follower reads them (a failed restore's, or one being restored). */
  skips(appId: string): boolean {
    return this.purged.has(appId) || this.suspended.get(appId) === 'restore';
  }

  applies(event: StoredEvent, owner: string | undefined): boolean {
    const appId = event.metadata.appId;
    if (!appId) return this.purgedStreams.size === 0 || !this.purgedStreams.has(event.stream);
    if (this.purged.has(appId)) return false;
    return appId === owner || !this.suspended.has(appId);
  }

  /** Projections see every event as the current version of its type describes it; `gatesOnly`: only the projections with a gate. */
  async applyEvent(stored: StoredEvent, tx: ProjectionTx, gatesOnly = false): Promise<void> {
    const event = this.catalog.upcast(stored);
    for (const projection of this.projections) if (!gatesOnly || projection.gate) await projection.apply(event, tx);
  }
}

/** Splits writes into groups of at most `max` changes, keeping each collection's changes in order. */
export function splitWrites(writes: readonly CollectionWrite[], max: number): CollectionWrite[][] {
  const parts: CollectionWrite[][] = [];
  let part: CollectionWrite[] = [];
  let size = 0;
  for (const write of writes) {
    for (let i = 0; i < write.changes.length; ) {
      const take = Math.min(max - size, write.changes.length - i);
      part.push({ collection: write.collection, changes: write.changes.slice(i, i + take) });
      size += take;
      i += take;
      if (size >= max) {
        parts.push(part);
        part = [];
        size = 0;
      }
    }
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
