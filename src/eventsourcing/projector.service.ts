import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EVENT_STORE, type EventStore, type Subscription } from '../infrastructure/event-store/event-store.port.js';
import { Lease } from '../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex, NameUnavailableError } from '../infrastructure/name-index/name-index.port.js';
import { FencedOutError, READ_STORE, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { DomainError } from '../platform/domain-errors.js';
import { INSTANCE_ID } from '../platform/instance.js';
import { CheckpointRule } from './checkpoint-rule.js';
import { ProjectionEngine } from './projection-engine.service.js';

const CHECKPOINT = 'projector';
/** The first retry of a failed catch-up or live subscription waits this long; each next one twice as long. */
const RETRY_MS = 1000;
/**
 * Attempts of a catch-up before this process gives the projector lease up: the failure may be
 * this process's (a broken connection, a full disk), so another process (or this one, a whole
 * lease period later) should get its turn. The live subscription gives it up once it has been
 * failing for half a lease period: a process that cannot project is then no better than a dead one.
 */
const CATCH_UP_ATTEMPTS = 3;
const WAIT_TIMEOUT_MS = 30_000;
/** The live checkpoint is saved with a commit after this many events or this much time (CheckpointRule). */
const CHECKPOINT_EVERY_EVENTS = 1000;
const CHECKPOINT_EVERY_MS = 250;
/** A process that does not project reads the projecting process's checkpoint this often while commands wait. */
const FOLLOWER_POLL_MS = 50;

export type ProjectorState = 'stopped' | 'catching-up' | 'live' | 'following';

/**
 * Keeps the projections up with the event store, from the checkpoint saved with them. At start-up
 * it catches up with what the store holds (a bulk replay, chunked, the server answering meanwhile),
 * then follows new events live, each slice committed as it arrives, the checkpoint with it every
 * CheckpointRule. Both go through the projection engine. Commands wait for it to reach their
 * position (read-your-writes).
 *
 * Exactly one process projects into a read store: the one holding the projector lease in the
 * shared claims. Others on the same stores (replicas) only follow the saved checkpoint, so their
 * commands still read their own writes, and take the lease over if its holder dies. A process that
 * takes the lease over also takes the checkpoint over in the read store (a fencing token every
 * commit carries), so a holder that stalled past its lease can no longer write; and one that
 * cannot project (its catch-up or its subscription keeps failing) gives the lease up instead of
 * holding it while nobody projects.
 */
@Injectable()
export class Projector implements OnApplicationShutdown {
  private readonly logger = new Logger(Projector.name);
  private position = 0;
  private readonly rule = new CheckpointRule(CHECKPOINT_EVERY_EVENTS, CHECKPOINT_EVERY_MS);
  /** Set while a checkpoint save is pending (the last commit went without it). */
  private saveTimer?: NodeJS.Timeout;
  private saved = 0;
  private leadership?: Lease;
  private followTimer?: NodeJS.Timeout;
  /** When a process that follows may try to take the lease next. */
  private nextLeadAttempt = 0;
  private idlePolls = 0;
  private subscription?: Subscription;
  private waiters: { position: number; resolve: () => void }[] = [];
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;
  private live = false;
  /** Failures in a row of the live subscription, and when the first of them was (reset by every batch it projects). */
  private liveFailures = 0;
  private liveFailingSince = 0;
  /** Events applied since start (events of suspended or purged apps are skipped, not counted). */
  private applied = 0;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_STORE) private readonly readStore: ReadStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly engine: ProjectionEngine,
  ) {}

  get checkpoint(): number {
    return this.position;
  }

  get state(): ProjectorState {
    if (this.stopped) return 'stopped';
    if (!this.leadership) return 'following';
    return this.live ? 'live' : 'catching-up';
  }

  /** Whether this process projects (holds the projector lease). */
  get projects(): boolean {
    return this.leadership !== undefined && !this.leadership.lost.aborted;
  }

  /**
   * Replays of one app (restores, rebuilds) must run where the projections are made, or the
   * projecting process would apply the same events again.
   */
  async assertProjects(what: string): Promise<void> {
    if (this.projects) return;
    const holder = (await this.names.lookup(claims.projector()))?.holder;
    throw new DomainError(
      'conflict',
      `${what} must run on the AppVault process that runs the projections${holder ? ` (${holder})` : ''}, and this one (${INSTANCE_ID}) does not; send the request to that process`,
    );
  }

  /**
   * Takes the projector lease and catches up with what the store holds, then follows it; resolves
   * once caught up. If another process projects, follows its checkpoint instead. The server listens
   * meanwhile (see StartupService). A catch-up that keeps failing gives the lease up and fails the
   * start-up, as before there were replicas.
   */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.engine.init();
    this.position = await this.readStore.getCheckpoint(CHECKPOINT);
    this.saved = this.position;
    if (!(await this.lead())) {
      this.logger.log(`Another process runs the projections; following its checkpoint (at ${this.position})`);
      this.followCheckpoint();
      return;
    }
    await this.project('Catching up projections');
  }

  /** Tries to take the projector lease; false when another live process holds it. */
  private async lead(): Promise<boolean> {
    this.nextLeadAttempt = Date.now() + this.config.nameReservationTtlMs / 2;
    try {
      const lease = await Lease.acquire(this.names, claims.projector(), { ttlMs: this.config.nameReservationTtlMs, holder: INSTANCE_ID });
      this.leadership = lease;
      lease.lost.addEventListener('abort', () => void this.relinquish(lease, 'Lost the projector lease (this process stalled past its expiry); another process may project now'));
      return true;
    } catch (error) {
      if (error instanceof NameUnavailableError) return false;
      throw error;
    }
  }

  /**
   * Holding the lease: takes the checkpoint over (a new fence: commits of an earlier holder are
   * refused from now on), catches up, then follows live. A catch-up that fails is tried again, a
   * little later each time; one that keeps failing gives the lease up and throws. If the lease is
   * lost meanwhile, returns with this process following.
   */
  private async project(what: string): Promise<void> {
    const lease = this.leadership!;
    let fenced = false;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!fenced) {
          const { fence, position } = await this.readStore.takeOver(CHECKPOINT);
          this.engine.fence = fence;
          // What another process projected is known only now: its purges, and how far it got.
          await this.engine.loadPurged();
          this.position = position;
          this.saved = position;
          this.releaseWaiters();
          fenced = true;
        }
        await this.catchUp(what, lease);
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.stopped) throw error;
        // The lease was lost meanwhile (see relinquish): this process follows now, like every other one.
        if (this.leadership !== lease) return;
        if (error instanceof FencedOutError || attempt >= CATCH_UP_ATTEMPTS) {
          await this.relinquish(lease, `${what} failed ${attempt === 1 ? 'once' : `${attempt} times`} at position ${this.position} (${message}); giving the projections up so that another process, or this one later, takes them over`);
          throw error;
        }
        const delay = RETRY_MS * 2 ** (attempt - 1);
        this.logger.warn(`${what} failed at position ${this.position} (${message}); trying again in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.stopped) throw error;
        if (this.leadership !== lease) return;
      }
    }
    this.live = true;
    this.liveFailures = 0;
    this.follow();
  }

  /**
   * Stops projecting and frees the lease (if it is still this process's), then follows the saved
   * checkpoint; the follower takes the lease again once per lease period if nobody else has.
   */
  private async relinquish(lease: Lease, reason: string): Promise<void> {
    if (this.leadership !== lease) return;
    this.logger.error(reason);
    this.leadership = undefined;
    this.live = false;
    // Others get the first turn (they try every half lease period): this one tries again a whole lease period from now.
    this.nextLeadAttempt = Date.now() + this.config.nameReservationTtlMs;
    clearTimeout(this.retryTimer);
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
    // A lease already lost or taken over is not freed: release() only removes this token's reservation.
    await lease.release().catch((error: unknown) => this.logger.warn(`Could not free the projector lease: ${String(error)}; it frees itself when it expires`));
    if (!this.stopped) this.followCheckpoint();
  }

  /**
   * Not projecting: reads the saved checkpoint while commands wait for it, and tries to take the
   * lease over once per half lease period (its holder may have died, or given it up).
   */
  private followCheckpoint(): void {
    clearTimeout(this.followTimer);
    if (this.stopped) return;
    this.followTimer = setTimeout(() => {
      void (async () => {
        if (Date.now() >= this.nextLeadAttempt && (await this.lead())) {
          this.logger.log(`Took over the projections at position ${this.position}`);
          // A takeover that fails has given the lease up again and resumed following (see project).
          await this.project('Catching up projections').catch(() => undefined);
          return;
        }
        // Read often while commands wait for their writes, about once a second otherwise (health's lag).
        if (this.waiters.length > 0 || ++this.idlePolls * FOLLOWER_POLL_MS >= 1000) {
          this.idlePolls = 0;
          const saved = await this.readStore.getCheckpoint(CHECKPOINT);
          if (saved > this.position) {
            this.position = saved;
            this.releaseWaiters();
          }
        }
        this.followCheckpoint();
      })().catch((error: unknown) => {
        this.logger.warn(`Following the projections failed: ${error instanceof Error ? error.message : String(error)}; retrying`);
        this.followCheckpoint();
      });
    }, FOLLOWER_POLL_MS);
    this.followTimer.unref();
  }

  /** Replays what the store holds past the checkpoint, in bulk, up to the head it has now; stops if the lease is given up meanwhile. */
  private async catchUp(what: string, lease: Lease): Promise<void> {
    const head = await this.store.headPosition();
    if (head <= this.position) return;
    this.logger.log(`${what} from position ${this.position} to ${head}`);
    const started = Date.now();
    const cancelled = () => this.stopped || this.leadership !== lease;
    const replay = this.engine.begin({ checkpoint: CHECKPOINT, bulk: true, onCommitted: (position, applied, saved) => this.moved(position, applied, saved), cancelled });
    await replay.feed(this.store.readAll({ after: this.position, until: head }));
    if (this.stopped) throw new Error('The server stopped while the projections were catching up');
    if (cancelled()) throw new Error('This process gave the projections up while they were catching up');
    await replay.flush();
    this.logger.log(`Projections are up to date at position ${head}: ${replay.applied} events in ${Date.now() - started} ms`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.followTimer);
    await this.subscription?.close();
    this.subscription = undefined;
    await this.saveCheckpoint().catch((error: unknown) => this.logger.warn(`Could not save the checkpoint at shutdown: ${String(error)}; the events since are applied again at start-up`));
    await this.leadership?.release().catch(() => undefined);
    this.leadership = undefined;
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
   * Truncates every projection and replays the whole store into them, in slices like any catch-up,
   * so the server keeps answering (reads see the projections fill up meanwhile). Refused while a
   * restore or an app rebuild owns an app: truncating would take that replay's work away.
   */
  async rebuildAll(): Promise<number> {
    await this.assertProjects('Rebuilding every projection');
    if (this.engine.anySuspended) throw new DomainError('conflict', 'A restore or rebuild is running; rebuild all projections once it has finished');
    await this.subscription?.close();
    this.subscription = undefined;
    const before = this.applied;
    await this.engine.clear((tx, projections) => {
      for (const projection of projections) projection.clearAll(tx);
    }, { name: CHECKPOINT, position: 0 });
    this.position = 0;
    this.saved = 0;
    this.live = false;
    try {
      await this.catchUp('Rebuilding every projection', this.leadership!);
    } finally {
      if (this.projects) {
        this.live = true;
        this.follow();
      }
    }
    return this.applied - before;
  }

  /**
   * Projects new events as they are appended. A failure is retried from the position reached, a
   * little later each time; failing for half a lease period, or a fence another process has taken
   * since, gives the lease up (see relinquish).
   */
  private follow(): void {
    const lease = this.leadership;
    if (this.stopped || !lease) return;
    this.subscription = this.store.subscribe(
      this.position,
      async (events, through) => {
        const replay = this.engine.begin({
          checkpoint: CHECKPOINT,
          saveCheckpoint: (applied) => this.rule.due(applied),
          onCommitted: (position, applied, saved) => this.moved(position, applied, saved),
        });
        await replay.feed(events.filter((e) => e.position > this.position));
        await replay.skipTo(through);
        this.liveFailures = 0;
      },
      (error) => {
        this.subscription = undefined;
        if (this.stopped || this.leadership !== lease) return;
        if (this.liveFailures++ === 0) this.liveFailingSince = Date.now();
        const failingFor = Date.now() - this.liveFailingSince;
        if (error instanceof FencedOutError || (this.liveFailures > 1 && failingFor >= this.config.nameReservationTtlMs / 2)) {
          const why = error instanceof FencedOutError ? 'another process has taken the projections over' : `it has failed ${this.liveFailures} times in a row for ${failingFor} ms`;
          void this.relinquish(lease, `Projection stopped at position ${this.position}: ${error.message}; ${why}, so this process gives the projections up`);
          return;
        }
        const delay = RETRY_MS * 2 ** (this.liveFailures - 1);
        this.logger.error(`Projection stopped at position ${this.position}: ${error.message}; retrying in ${delay} ms`, error.stack);
        this.retryTimer = setTimeout(() => this.follow(), delay);
      },
      { skip: (appId) => this.engine.skips(appId) },
    );
  }

  private moved(position: number, applied: number, saved: boolean): void {
    this.position = position;
    this.applied += applied;
    if (saved) {
      this.saved = position;
      this.rule.saved();
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    } else {
      this.saveTimer ??= setTimeout(() => {
        const lease = this.leadership;
        void this.saveCheckpoint().catch((error: unknown) => {
          if (error instanceof FencedOutError && lease) void this.relinquish(lease, `Could not save the checkpoint: ${error.message}; this process gives the projections up`);
          else this.logger.warn(`Could not save the checkpoint: ${String(error)}`);
        });
      }, this.rule.everyMs);
    }
    this.releaseWaiters();
  }

  /** Saves the position the committed read models have reached, if the last commits went without it. */
  private async saveCheckpoint(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.projects) return;
    await this.engine.exclusive(async () => {
      const position = this.position;
      if (position <= this.saved) return;
      await this.engine.commit([], { name: CHECKPOINT, position });
      this.saved = position;
      this.rule.saved();
    });
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.position <= this.position);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.position > this.position);
    for (const w of ready) w.resolve();
  }
}
