import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, type EventStore, type StoredEvent, type Subscription } from '../../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { DomainError } from '../domain-errors.js';
import type { Projection } from './projection.js';

const CHECKPOINT = 'projector';
/** Saving the checkpoint after every event would double the writes of a long replay. */
const CHECKPOINT_EVERY = 200;
const CHECKPOINT_IDLE_MS = 50;
const RETRY_MS = 1000;
const WAIT_TIMEOUT_MS = 30_000;
const REBUILD_CHUNK = 1000;

interface PurgedApp {
  id: string;
}

/**
 * Tails the event store from a stored checkpoint and feeds every registered projection, one event
 * at a time. It catches up at start-up, so events appended while it was down (or between an
 * append and its projection when the process died) are projected before anyone reads.
 */
@Injectable()
export class Projector implements OnApplicationShutdown {
  private readonly logger = new Logger(Projector.name);
  private readonly projections: Projection[] = [];
  private position = 0;
  private savedPosition = 0;
  private subscription?: Subscription;
  private waiters: { position: number; resolve: () => void }[] = [];
  private idleTimer?: NodeJS.Timeout;
  private purged = new Set<string>();
  /** Apps being restored: their events are projected once, by the rebuild that ends the restore. */
  private readonly suspended = new Set<string>();
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;
  /** Serialises live projection, rebuilds and purges so they never interleave. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_STORE) private readonly readStore: ReadStore,
  ) {}

  register(projection: Projection): void {
    if (!this.stopped) throw new Error(`Projection ${projection.name} registered after the projector started`);
    this.projections.push(projection);
  }

  get checkpoint(): number {
    return this.position;
  }

  /** Catches up to the head of the store, then follows it. Resolves once caught up. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    for await (const app of this.readStore.collection<PurgedApp>('purged_apps').iterate({})) this.purged.add(app.id);
    this.position = await this.readStore.getCheckpoint(CHECKPOINT);
    this.savedPosition = this.position;
    const head = await this.store.headPosition();
    if (head > this.position) {
      this.logger.log(`Catching up projections from position ${this.position} to ${head}`);
      await this.catchUp(head);
    }
    this.follow();
    await this.waitFor(head, Number.POSITIVE_INFINITY);
  }

  /**
   * Before anyone reads or writes (start-up), the backlog is replayed in chunks, each one commit,
   * instead of one commit per event as live projection does.
   */
  private async catchUp(head: number): Promise<void> {
    while (this.position < head) {
      const before = this.position;
      await this.exclusive(() =>
        this.readStore.batch(async () => {
          let count = 0;
          for await (const event of this.store.readAll({ after: this.position, until: head })) {
            await this.project(event);
            if (++count >= REBUILD_CHUNK) break;
          }
        }),
      );
      await this.saveCheckpoint();
      if (this.position === before) return;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.subscription?.close();
    this.subscription = undefined;
    await this.saveCheckpoint();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Resolves when every event up to `position` is projected (read-your-writes for commands). */
  waitFor(position: number, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(() => {
              this.waiters = this.waiters.filter((w) => w.resolve !== done);
              reject(new DomainError('unavailable', `The change was saved, but read models have not caught up after ${timeoutMs} ms; it will show shortly`));
            }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ position, resolve: done });
    });
  }

  /**
   * Stops projecting one app's events as they arrive (a restore appending a whole history): they
   * are projected once, by `rebuild(appId)`, which ends the suspension. Until then the app is
   * invisible to reads, so nobody sees it half restored.
   */
  suspend(appId: string): void {
    this.suspended.add(appId);
  }

  /** Truncates and replays projections, for one app or for all, up to the current checkpoint. */
  async rebuild(appId?: string): Promise<number> {
    if (appId && this.suspended.has(appId)) return this.rebuildSuspended(appId);
    return this.exclusive(() => this.readStore.batch(async () => {
      let replayed = 0;
      if (appId) {
        for (const p of this.projections) await p.clearApp(appId);
        for await (const event of this.store.readApp(appId, { until: this.position })) {
          await this.applyAll(event);
          replayed += 1;
        }
        // Inside the lock: every later event of the app is projected live again, none is missed.
        this.suspended.delete(appId);
      } else {
        for (const p of this.projections) await p.clearAll();
        for await (const event of this.store.readAll({ until: this.position })) {
          const id = event.metadata.appId;
          if (id && (this.purged.has(id) || this.suspended.has(id))) continue;
          await this.applyAll(event);
          replayed += 1;
        }
      }
      this.logger.log(`Rebuilt projections ${appId ? `of app ${appId}` : 'of all apps'} from ${replayed} events`);
      return replayed;
    }));
  }

  /**
   * A suspended app is invisible and nobody else writes to it, so its history can be replayed in
   * chunks, each under the lock: live projection of other apps goes on between chunks instead of
   * waiting for a million-event replay. The last chunk ends the suspension inside the lock.
   */
  private async rebuildSuspended(appId: string): Promise<number> {
    await this.exclusive(async () => {
      for (const p of this.projections) await p.clearApp(appId);
    });
    let after = 0;
    let replayed = 0;
    for (;;) {
      const chunk = await this.exclusive(() => this.readStore.batch(async () => {
        let count = 0;
        let last = after;
        for await (const event of this.store.readApp(appId, { after, until: this.position })) {
          await this.applyAll(event);
          last = event.position;
          count += 1;
          if (count >= REBUILD_CHUNK) return { count, last, done: false };
        }
        this.suspended.delete(appId);
        return { count, last, done: true };
      }));
      replayed += chunk.count;
      after = chunk.last;
      if (chunk.done) return replayed;
    }
  }

  /**
   * Removes every trace of an app that must never have existed (a failed restore): its events,
   * its read models, and a tombstone so stores that keep deleted events until compaction
   * (EventStoreDB's $all) never project them again.
   */
  async purgeApp(appId: string): Promise<void> {
    await this.readStore.collection<PurgedApp>('purged_apps').put({ id: appId });
    this.purged.add(appId);
    await this.exclusive(async () => {
      await this.store.deleteApp(appId);
      for (const p of this.projections) await p.clearApp(appId);
      this.suspended.delete(appId);
    });
  }

  private follow(): void {
    this.subscription = this.store.subscribe(
      this.position,
      (event) => this.exclusive(() => this.project(event)),
      (error) => {
        this.logger.error(`Projection stopped at position ${this.position}: ${error.message}; retrying in ${RETRY_MS} ms`, error.stack);
        this.subscription = undefined;
        if (!this.stopped) this.retryTimer = setTimeout(() => this.follow(), RETRY_MS);
      },
    );
  }

  private async project(event: StoredEvent): Promise<void> {
    if (event.position <= this.position) return;
    const appId = event.metadata.appId;
    if (!(appId && (this.purged.has(appId) || this.suspended.has(appId)))) await this.applyAll(event);
    this.position = event.position;
    if (this.position - this.savedPosition >= CHECKPOINT_EVERY) await this.saveCheckpoint();
    else this.scheduleCheckpoint();
    this.releaseWaiters();
  }

  private async applyAll(event: StoredEvent): Promise<void> {
    for (const p of this.projections) await p.apply(event);
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.position <= this.position);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.position > this.position);
    for (const w of ready) w.resolve();
  }

  private scheduleCheckpoint(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.saveCheckpoint().catch((e: unknown) => this.logger.error(`Saving the checkpoint failed: ${String(e)}`)), CHECKPOINT_IDLE_MS);
  }

  private async saveCheckpoint(): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.position === this.savedPosition) return;
    const position = this.position;
    await this.readStore.setCheckpoint(CHECKPOINT, position);
    this.savedPosition = position;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
