import { type NewEvent, type StoredEvent, streams, type StreamWrite } from '../infrastructure/event-store/event-store.port.js';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { SYSTEM_ACTOR } from '../auth/principal.js';
import { excerpt } from '../platform/text/control-characters.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import type { ArchivedEvent } from './archive-format.js';
import type { ParticipantSink, RestoreContext, RestoreParticipant, RestoreSession } from './archive-participant.port.js';
import { type ArchiveContent, type EventCursor, InvalidArchiveError } from './archive-reader.js';
import { refuseLoneIncrement } from './archive-check.js';
import { RestoreValidator } from './restore-validator.js';
import { ScratchKeys } from './scratch-keys.js';

/** Events per append: one commit per batch, spanning streams, in order. */
const APPEND_BATCH = 500;
/** Deferred participant work (files being stored) running at once; each holds an open entry and a file. */
const DEFERRED_IN_FLIGHT = 8;

/**
 * Where a restore writes: the installation (RestoreRunner's sink: the event store, projected as it
 * goes, the blob store, the users) or a rehearsal (RehearsalSink: scratch streams, hashes, counts).
 */
export interface RestoreSink extends ParticipantSink {
  /** Appends one batch of the target app's events, in order, spanning streams. */
  appendBatch(writes: StreamWrite[]): Promise<void>;
  /** The target app's stream as appended so far (the validator folds a state again from it). */
  readStream(stream: string): AsyncIterable<StoredEvent>;
}

export interface ArchiveRestoreOptions {
  /** One archive, or an incremental chain read as one history (ArchiveChain). */
  reader: ArchiveContent;
  catalog: EventCatalog;
  participants: readonly RestoreParticipant[];
  sink: RestoreSink;
  log(message: string): void;
  /** A step a participant announces (`assets`, `owner`). */
  step(name: string): Promise<void>;
  remember(key: string, value: string): Promise<void>;
  /** Stops the events at the next one (the job was abandoned or lost its slot). */
  signal?: AbortSignal;
  /** The archive came encrypted and was opened with a key (RestoreContext.encrypted). */
  encrypted?: boolean;
  /** Where the participants' scratch file goes (RestoreContext.keys): DATA_DIR/tmp on a server; else the system's temp folder. */
  scratchDir?: string;
}

/**
 * Where a restore stands once a batch is appended: events 1..`events` of the archive are in the new
 * app; the next one is read from `next` (null once every event was read); `assets` files are
 * stored; `claimedNames` is the validator's state that the streams do not hold (see
 * RestoreValidator.claimedNames). What a restore's journal keeps to resume from.
 */
export interface RestoreCheckpoint {
  events: number;
  next: EventCursor | null;
  assets: number;
  claimedNames: Record<string, string[]>;
}

/** What `ArchiveRestore.events` tells around each append, and where a resumed restore starts. */
export interface EventHooks {
  from?: RestoreCheckpoint;
  beforeAppend?(checkpoint: RestoreCheckpoint): Promise<void>;
  onBatch?(restored: number, checkpoint: RestoreCheckpoint): Promise<void>;
}

/** The app a restore creates. */
export interface RestoreTarget {
  appId: string;
  name: string;
  /** Who restores (becomes an Owner); the system in a rehearsal. */
  actor: string;
}

/**
 * A restore of one archive, as the restore runner runs it and as a rehearsal runs it (a dry run,
 * `appvault archive verify`), one code path for both: only the sink differs. In order:
 * `validator` for the checks on the archive alone (checkArchive), then `begin` (participants
 * begin: users.json is read and the users mapped), `events` (each event checked, mapped and
 * appended in batches), `summarize`, and, for a real restore once its projections are done,
 * `complete`. `drain` before the reader closes.
 */
export class ArchiveRestore {
  readonly validator: RestoreValidator;
  readonly counts = { assets: 0 };
  private readonly deferred = new DeferredWork(DEFERRED_IN_FLIGHT);
  private readonly userMap = new Map<string, string>();
  private keys?: ScratchKeys;
  private sessions: RestoreSession[] = [];
  private mappers: RestoreSession[] = [];
  private target?: RestoreTarget;

  constructor(private readonly options: ArchiveRestoreOptions) {
    this.validator = new RestoreValidator(options.catalog, (stream) => options.sink.readStream(stream), options.reader.manifest.app.id);
  }

  /** Participants begin, in order (the users participant maps users.json's users); then the validator knows the users. */
  async begin(target: RestoreTarget): Promise<void> {
    this.target = target;
    const { reader, sink } = this.options;
    refuseLoneIncrement(reader);
    this.keys ??= ScratchKeys.create(this.options.scratchDir);
    const context: RestoreContext = {
      sourceAppId: reader.manifest.app.id,
      targetAppId: target.appId,
      targetName: target.name,
      actor: target.actor,
      encrypted: this.options.encrypted === true,
      openEntry: (entry) => reader.open(entry),
      hasEntry: (entry) => reader.has(entry),
      setUserMapping: (from, to) => void this.userMap.set(from, to),
      log: (message) => this.options.log(message),
      counts: this.counts,
      keys: this.keys,
      step: (name) => this.options.step(name),
      remember: (key, value) => this.options.remember(key, value),
      defer: (work) => this.deferred.start(work),
      sink,
    };
    for (const participant of this.options.participants) {
      const session = await participant.restore?.(context);
      if (session) this.sessions.push(session);
    }
    this.mappers = this.sessions.filter((session) => session.mapEvent);
    this.validator.forTarget(target.appId, new Set(this.userMap.values()));
  }

  /**
   * The archive's events up to the first one `keep` refuses: each checked, mapped and appended in
   * batches (every file a batch's events name is stored before the batch). Around each append the
   * caller hears where the restore stands once the batch is in (a RestoreCheckpoint): `beforeAppend`
   * (what a journal notes as pending) and `onBatch` (what it notes as written). With `from`, the
   * events up to `from.events` are in the new app already (a resumed restore): reading starts at
   * `from.next` and skips them. Returns how many are restored in all; none is an error.
   */
  async events(keep: (event: ArchivedEvent) => boolean, hooks: EventHooks = {}): Promise<number> {
    const { reader, sink, signal } = this.options;
    const { from } = hooks;
    let pending: StreamWrite[] = [];
    let pendingCount = 0;
    let restored = from?.events ?? 0;
    const flush = async () => {
      if (pendingCount === 0) return;
      await this.deferred.settle();
      const checkpoint: RestoreCheckpoint = { events: restored + pendingCount, next: reader.cursor, assets: this.counts.assets, claimedNames: this.validator.claimedNames() };
      await hooks.beforeAppend?.(checkpoint);
      await sink.appendBatch(pending);
      restored += pendingCount;
      pending = [];
      pendingCount = 0;
      await hooks.onBatch?.(restored, checkpoint);
    };
    if (from) {
      this.counts.assets = from.assets;
      this.validator.restoreClaimedNames(from.claimedNames);
    }
    // A rehearsal's sink writes synchronously: give the event loop its turns.
    const slicer = new TimeSlicer();
    const source = from ? (from.next ? reader.events(from.next) : []) : reader.events();
    for await (const archived of source) {
      signal?.throwIfAborted();
      if (from && archived.number <= from.events) continue;
      if (!keep(archived)) break;
      const turn = slicer.tick();
      if (turn) await turn;
      const { stream, streamVersion, event } = await this.restoredEvent(archived);
      let write = pending.at(-1);
      if (write?.stream !== stream) {
        write = { stream, expectedVersion: streamVersion - 1, events: [] };
        pending.push(write);
      }
      pendingCount += 1;
      write.events.push(event);
      // Flushed before the next event is read: a checkpoint's state (claimed names, files) is exactly its batch's.
      if (pendingCount >= APPEND_BATCH) await flush();
    }
    await flush();
    if (restored === 0) throw new InvalidArchiveError('No event is left to restore at that point in time');
    return restored;
  }

  /** A resumed restore: each participant folds again the state its first run kept (RestoreSession.resume). */
  async resume(): Promise<void> {
    for (const session of this.sessions) await session.resume?.((stream) => this.options.sink.readStream(stream));
  }

  /** After the events: what the participants say about them (reading only). */
  async summarize(): Promise<void> {
    for (const session of this.sessions) await session.summarize?.();
  }

  /** A real restore's last participant steps, once its events are projected (the Owner grant). */
  async complete(): Promise<void> {
    for (const session of this.sessions) await session.complete?.();
  }

  /**
   * Waits for file work still running, its outcome aside: it reads from the archive, and a cleanup
   * must not race it. Then removes the participants' scratch file. Before the reader closes, always.
   */
  async drain(): Promise<void> {
    try {
      await this.deferred.drain();
    } finally {
      this.keys?.close();
    }
  }

  /**
   * One archived event made into the event of the new app, with every check a restore makes on it
   * in order: the history starts with AppCreated and never holds AppDeleted, the event belongs to
   * its stream and fits its domain's rules (the validator), every user it names is in users.json;
   * then each participant maps it (file versions). Throws InvalidArchiveError.
   */
  private async restoredEvent(archived: ArchivedEvent): Promise<{ stream: string; streamVersion: number; event: NewEvent }> {
    const target = this.target!;
    const { validator } = this;
    const appStream = streams.app(this.options.reader.manifest.app.id);
    if (archived.number === 1 && (archived.stream !== appStream || archived.type !== 'AppCreated')) {
      throw new InvalidArchiveError(`The first event must be AppCreated in ${appStream}; found ${excerpt(archived.type, 60)} in ${excerpt(archived.stream, 120)}`);
    }
    if (archived.type === 'AppDeleted') {
      throw new InvalidArchiveError(`The app was deleted at event ${archived.number}; restore a point before it (untilEvent ${archived.number - 1})`);
    }
    const placed = validator.place(archived);
    const current = validator.current(archived);
    if (archived.actor !== SYSTEM_ACTOR && !this.userMap.has(archived.actor)) {
      throw validator.refuse(archived, `its actor ${archived.actor.slice(0, 80)} is not in users.json`);
    }
    const stream = validator.targetStream(placed);
    // The users its data names are mapped as its actor is; each must be in users.json.
    const named = placed.definition.users;
    const data = named ? named.map(current, (userId) => this.mappedUser(userId, archived)).data : current.data;
    let event: ArchivedEvent = { ...archived, stream, type: current.type, data, schemaVersion: this.options.catalog.versionOf(current.type), actor: this.mapUser(archived.actor) };
    for (const session of this.mappers) {
      const mapped = session.mapEvent!(event);
      event = mapped instanceof Promise ? await mapped : mapped;
    }
    await validator.follow(archived, placed, event, stream);
    return {
      stream,
      streamVersion: archived.streamVersion,
      event: { type: event.type, data: event.data, metadata: { appId: target.appId, actor: event.actor, timestamp: event.timestamp, schemaVersion: event.schemaVersion } },
    };
  }

  /** This installation's user for an archived user id; unknown ids map to the system actor. */
  private mapUser(userId: string): string {
    return userId === SYSTEM_ACTOR ? SYSTEM_ACTOR : (this.userMap.get(userId) ?? SYSTEM_ACTOR);
  }

  /** A user id an event's data names (not its actor): refused when users.json does not list it, as unlisted actors are. */
  private mappedUser(userId: string, archived: ArchivedEvent): string {
    if (userId !== SYSTEM_ACTOR && !this.userMap.has(userId)) throw new InvalidArchiveError(`Event ${archived.number} (${archived.type}) names user ${userId.slice(0, 80)}, who is not in users.json`);
    return this.mapUser(userId);
  }
}

/**
 * Which events a restore up to a point in time keeps (all, up to an event number, or up to a time)
 * and how its log says so.
 */
export function pointInTime(total: number, point: { untilEvent?: number | null; until?: string | null }): { keep: (event: ArchivedEvent) => boolean; description: string } {
  const { untilEvent, until } = point;
  if (untilEvent !== undefined && untilEvent !== null) {
    if (untilEvent > total) throw new InvalidArchiveError(`untilEvent is ${untilEvent}, but the archive holds only ${total} events`);
    return { keep: (e) => e.number <= untilEvent, description: `, up to event ${untilEvent} of ${total}` };
  }
  if (until !== undefined && until !== null) {
    const limit = Date.parse(until);
    return { keep: (e) => Date.parse(e.timestamp) <= limit, description: `, as of ${until}` };
  }
  return { keep: () => true, description: '' };
}

/** Participant work that runs alongside the event stream, a few at a time; `settle` waits for all of it. */
class DeferredWork {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly limit: number) {}

  async start(work: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const run: Promise<void> = work()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
    this.throwIfFailed();
  }

  /** Waits for whatever still runs, its outcome aside (the restore has failed or finished). */
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
