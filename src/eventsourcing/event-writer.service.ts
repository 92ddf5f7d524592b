import { Inject, Injectable } from '@nestjs/common';
import { EventBus, type IEvent } from '@nestjs/cqrs';
import { DomainError } from '../platform/domain-errors.js';
import type { DomainEvent, StateFold } from './decider.js';
import { EventCatalog } from './event-catalog.service.js';
import {
  EVENT_STORE,
  type EventMetadata,
  type EventStore,
  type ExpectedVersion,
  EventTooLargeError,
  type NewEvent,
  WrongExpectedVersionError,
} from '../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import { Projector } from './projector.service.js';
import { TimeSlicer } from '../platform/time-slicer.js';

export interface Loaded<S> {
  state: S;
  /** Stream revision, -1 when the stream does not exist. */
  version: number;
}

export interface WriteContext {
  actor: string;
  appId?: string;
  /** Restores pass the original time; everything else happens now. */
  timestamp?: string;
  /**
   * Runs once the events are stored, before waiting for the projections: what must follow a
   * successful append whatever happens next (committing a unique claim) goes here, because a
   * projection wait that times out does not undo the append.
   */
  onAppended?: (position: number) => Promise<void>;
}

/** One event as it was stored, as subscribers of EventsAppended see it. */
export interface AppendedEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  /** 0-based revision of the event in its stream. */
  streamVersion: number;
}

/**
 * Published on the Nest EventBus for every append EventWriter stores (commands, a restore's Owner
 * grant, rollbacks; a restore's replay of an archive writes to the store directly and is not
 * published), once the store has it and outside the command that wrote it: a subscriber
 * (`@EventsHandler(EventsAppended)`) can neither slow a command down nor fail it. It may run before
 * the read models show the events; one that reads them first waits with
 * `Projector.waitFor(position)`. Nothing in the server subscribes yet.
 */
export class EventsAppended implements IEvent {
  constructor(
    readonly stream: string,
    readonly events: readonly AppendedEvent[],
    /** The global position of the last event of the append they came with (stores give no other). */
    readonly position: number,
  ) {}
}

/**
 * A write to a stream that changed since it was read: another writer got there first. Commands
 * that allow it decide again on the stream as it now is (StreamCommandHandler); others answer 409.
 */
export class StreamChangedError extends DomainError {
  constructor(error: WrongExpectedVersionError) {
    super('conflict', `The resource was changed by someone else (it is at version ${error.actual}, expected ${String(error.expected)}); reload it and try again`);
  }
}

/**
 * Where events are written: one stream at a time for commands (StreamCommandHandler), several at
 * once for rollbacks. Every append is refused while the app's writes are held, checked against the
 * event catalog, stored with optimistic concurrency, published (EventsAppended) and, before it
 * returns, shown by the projections (read-your-writes).
 */
@Injectable()
export class EventWriter {
  /** Apps whose writes are held (a rollback runs), with the message a refused write gets. */
  private readonly held = new Map<string, string>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    private readonly projector: Projector,
    private readonly catalog: EventCatalog,
    private readonly bus: EventBus,
  ) {}

  async load<S, E extends DomainEvent>(stream: string, decider: StateFold<S, E>): Promise<Loaded<S>> {
    let state = decider.initialState();
    let version = -1;
    for await (const stored of this.store.readStream(stream)) {
      const event = this.catalog.upcast(stored);
      state = decider.evolve(state, { type: event.type, data: event.data } as E);
      version = stored.streamVersion;
    }
    return { state, version };
  }

  /**
   * Refuses every write to the app (409 with `message`) until the returned function is called, so
   * a rollback sees an app that stands still. Held in this process; other processes on the same
   * stores refuse writes to the app while its rollback slot is claimed (see `append`).
   */
  holdWrites(appId: string, message: string): () => void {
    if (this.held.has(appId)) throw new DomainError('conflict', this.held.get(appId)!);
    this.held.set(appId, message);
    return () => {
      if (this.held.get(appId) === message) this.held.delete(appId);
    };
  }

  /**
   * Appends to several streams of one app at once (all or nothing on SQLite; stream by stream on
   * EventStoreDB, see EventStore.appendMany), bypassing a hold the caller owns, and waits until the
   * projections show it (unless the caller projects the events itself:
   * AppReplays.appendAndProject). For rollbacks, which give each event an id of its own
   * (`eventIds`) so that sending a write again cannot store it twice.
   */
  async appendMany(
    writes: { stream: string; events: DomainEvent[]; expectedVersion: ExpectedVersion; eventIds?: readonly string[] }[],
    context: WriteContext,
    options: { waitForProjections?: boolean } = {},
  ): Promise<{ position: number }> {
    const timestamp = context.timestamp ?? new Date().toISOString();
    // Thousands of events are checked against the catalog a slice of the event loop at a time.
    const slicer = new TimeSlicer();
    const prepared = [];
    for (const write of writes) {
      await slicer.tick();
      const events = this.prepare(write.events, context, timestamp).map((event, i) => (write.eventIds?.[i] ? { ...event, id: write.eventIds[i] } : event));
      prepared.push({ stream: write.stream, expectedVersion: write.expectedVersion, events });
    }
    const result = await this.store.appendMany(prepared);
    for (const write of prepared) {
      // A write that expected no particular version (none does today) stored events whose versions nobody knows.
      if (write.expectedVersion !== 'any') this.publish(write.stream, write.events, write.expectedVersion + write.events.length, result.position);
    }
    await context.onAppended?.(result.position);
    if (options.waitForProjections !== false) await this.projector.waitFor(result.position);
    return result;
  }

  /**
   * A rollback of the app run by another process (on the same stores) holds its writes too: its
   * slot is claimed in the shared claims for as long as it runs. One keyed look-up per write.
   */
  private async heldElsewhere(appId: string): Promise<string | undefined> {
    const slot = await this.names.lookup(claims.rollbackSlot(appId));
    if (!slot) return undefined;
    return `The app is being rolled back${slot.holder ? ` (rollback ${slot.holder})` : ''}; writes to it are refused until the rollback has finished. Try again in a moment.`;
  }

  private prepare(events: DomainEvent[], context: WriteContext, timestamp: string): NewEvent[] {
    return events.map((event) => ({
      type: event.type,
      data: this.catalog.prepare(event).data as Record<string, unknown>,
      metadata: {
        ...(context.appId ? { appId: context.appId } : {}),
        actor: context.actor,
        timestamp,
        schemaVersion: this.catalog.versionOf(event.type),
      },
    }));
  }

  async append(stream: string, events: DomainEvent[], expectedVersion: ExpectedVersion, context: WriteContext): Promise<{ version: number; position: number }> {
    const refused = context.appId === undefined ? undefined : (this.held.get(context.appId) ?? (await this.heldElsewhere(context.appId)));
    if (refused !== undefined) throw new DomainError('conflict', refused);
    const toStore = this.prepare(events, context, context.timestamp ?? new Date().toISOString());
    try {
      const result = await this.store.append(stream, toStore, expectedVersion);
      this.publish(stream, toStore, result.streamVersion, result.position);
      await context.onAppended?.(result.position);
      await this.projector.waitFor(result.position);
      return { version: result.streamVersion, position: result.position };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) throw new StreamChangedError(error);
      if (error instanceof EventTooLargeError) throw new DomainError('too-large', `The change is too large to store: ${error.message}`);
      throw error;
    }
  }

  /**
   * Publishes an append on the EventBus in a turn of its own, after the store has it: the command
   * that wrote it goes on meanwhile, and a subscriber that throws or takes long stays out of its way.
   */
  private publish(stream: string, stored: readonly NewEvent[], lastVersion: number, position: number): void {
    setImmediate(publishAppended, this.bus, stream, stored, lastVersion, position);
  }
}

function publishAppended(bus: EventBus, stream: string, stored: readonly NewEvent[], lastVersion: number, position: number): void {
  const first = lastVersion - stored.length + 1;
  bus.publish(new EventsAppended(stream, stored.map((event, i) => ({ type: event.type, data: event.data, metadata: event.metadata, streamVersion: first + i })), position));
}
