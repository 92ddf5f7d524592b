import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_STORE, type EventStore, type Subscription } from '../../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { DomainError } from '../domain-errors.js';
import { ProjectionEngine } from './projection-engine.service.js';

const CHECKPOINT = 'projector';
const RETRY_MS = 1000;
const WAIT_TIMEOUT_MS = 30_000;

export type ProjectorState = 'stopped' | 'catching-up' | 'live';

/**
 * Keeps the projections up with the event store, from the checkpoint saved with them. At start-up
 * it catches up with what the store holds (a bulk replay, chunked, the server answering meanwhile),
 * then follows new events live, each slice committed with the checkpoint as it arrives. Both go
 * through the projection engine. Commands wait for it to reach their position (read-your-writes).
 */
@Injectable()
export class Projector implements OnApplicationShutdown {
  private readonly logger = new Logger(Projector.name);
  private position = 0;
  private subscription?: Subscription;
  private waiters: { position: number; resolve: () => void }[] = [];
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;
  private caughtUpAt = 0;
  private live = false;
  /** Events applied since start (events of suspended or purged apps are skipped, not counted). */
  private applied = 0;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_STORE) private readonly readStore: ReadStore,
    private readonly engine: ProjectionEngine,
  ) {}

  get checkpoint(): number {
    return this.position;
  }

  get state(): ProjectorState {
    if (this.stopped) return 'stopped';
    return this.live ? 'live' : 'catching-up';
  }

  /**
   * Catches up with what the store holds, then follows it; resolves once caught up. The server
   * listens meanwhile (see StartupService).
   */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.engine.init();
    this.position = await this.readStore.getCheckpoint(CHECKPOINT);
    await this.catchUp('Catching up projections');
    this.live = true;
    this.follow();
  }

  /** Replays what the store holds past the checkpoint, in bulk, up to the head it has now. */
  private async catchUp(what: string): Promise<void> {
    const head = await this.store.headPosition();
    this.caughtUpAt = head;
    if (head <= this.position) return;
    this.logger.log(`${what} from position ${this.position} to ${head}`);
    const started = Date.now();
    const replay = this.engine.begin({ checkpoint: CHECKPOINT, bulk: true, onCommitted: (position, applied) => this.moved(position, applied), cancelled: () => this.stopped });
    await replay.feed(this.store.readAll({ after: this.position, until: head }));
    if (this.stopped) throw new Error('The server stopped while the projections were catching up');
    await replay.flush();
    this.logger.log(`Projections are up to date at position ${head}: ${replay.applied} events in ${Date.now() - started} ms`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.subscription?.close();
    this.subscription = undefined;
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

  /** How far the projections trail the store at start-up, in positions; 0 once caught up. */
  startupLag(): number {
    return this.live ? 0 : Math.max(0, this.caughtUpAt - this.position);
  }

  /**
   * Truncates every projection and replays the whole store into them, in slices like any catch-up,
   * so the server keeps answering (reads see the projections fill up meanwhile). Refused while a
   * restore or an app rebuild owns an app: truncating would take that replay's work away.
   */
  async rebuildAll(): Promise<number> {
    if (this.engine.anySuspended) throw new DomainError('conflict', 'A restore or rebuild is running; rebuild all projections once it has finished');
    await this.subscription?.close();
    this.subscription = undefined;
    const before = this.applied;
    await this.engine.clear((tx, projections) => {
      for (const projection of projections) projection.clearAll(tx);
    }, { name: CHECKPOINT, position: 0 });
    this.position = 0;
    this.live = false;
    try {
      await this.catchUp('Rebuilding every projection');
    } finally {
      this.live = true;
      this.follow();
    }
    return this.applied - before;
  }

  private follow(): void {
    if (this.stopped) return;
    this.subscription = this.store.subscribe(
      this.position,
      async (events, through) => {
        const replay = this.engine.begin({ checkpoint: CHECKPOINT, onCommitted: (position, applied) => this.moved(position, applied) });
        await replay.feed(events.filter((e) => e.position > this.position));
        await replay.skipTo(through);
      },
      (error) => {
        this.logger.error(`Projection stopped at position ${this.position}: ${error.message}; retrying in ${RETRY_MS} ms`, error.stack);
        this.subscription = undefined;
        if (!this.stopped) this.retryTimer = setTimeout(() => this.follow(), RETRY_MS);
      },
      { skip: (appId) => this.engine.skips(appId) },
    );
  }

  private moved(position: number, applied: number): void {
    this.position = position;
    this.applied += applied;
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.position <= this.position);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.position > this.position);
    for (const w of ready) w.resolve();
  }
}
