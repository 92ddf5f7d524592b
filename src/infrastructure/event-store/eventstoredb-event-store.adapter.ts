import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import {
  AccessDeniedError,
  ANY,
  type AppendExpectedRevision,
  type AppendResult as ClientAppendResult,
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  MaxAppendSizeExceededError,
  NO_STREAM,
  NotLeaderError,
  type Position,
  type ReadPosition,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  type StreamingRead,
  streamNameFilter,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedVersion,
  type HistoryCursor,
  InvalidCursorError,
  type NewEvent,
  type NumberedEvent,
  type ReadRange,
  type StoredEvent,
  type StreamWrite,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
  WrongExpectedVersionError,
  streams,
} from './event-store.port.js';

const DEFAULT_BATCH = 500;
/** Enough to step over a run of system events at the head of $all in one or two round trips. */
const HEAD_SCAN_BATCH = 20;
/** Metadata look-ups in flight at once when readApp checks which streams were deleted. */
const METADATA_CONCURRENCY = 16;

/**
 * The parts of a client ResolvedEvent this adapter reads. The client's own types are assignable to
 * it; naming only these lets the mapping be unit tested with hand-made objects.
 */
export interface ResolvedEventLike {
  event?: {
    streamId: string;
    revision: bigint;
    type: string;
    isJson: boolean;
    data: unknown;
    metadata: unknown;
    position?: Position;
  };
  commitPosition?: bigint;
}

/**
 * EventStoreDB (KurrentDB) through its gRPC client. Needs server 22.6 or newer: older servers do not
 * report an event's position when a stream is read, and the port needs it on every event.
 *
 * Deletes are soft (deleteStream): a stream can be written again after deleteApp (a retried restore
 * reuses the app id), but its revisions then continue after the old ones instead of restarting at 0,
 * and the deleted events stay in $all until a scavenge. readApp hides them; readAll and subscribe do
 * not, see {@link EventStoreDbEventStore.purgedEventFilter}.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly client: EventStoreDBClient;

  private readonly maxAppendBytes: number;

  /** Takes a connection string such as `esdb://localhost:2113?tls=false`, or a client to share. */
  constructor(connection: string | EventStoreDBClient, options: { maxAppendBytes?: number } = {}) {
    this.client = typeof connection === 'string' ? EventStoreDBClient.connectionString(connection) : connection;
    this.maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
  }

  /**
   * The client connects lazily; this makes one read of $all so a wrong URL, missing credentials or
   * a server that is down fail at startup rather than on the first request.
   */
  static async connect(connectionString: string, options: { maxAppendBytes?: number } = {}): Promise<EventStoreDbEventStore> {
    const store = new EventStoreDbEventStore(connectionString, options);
    try {
      await store.headPosition();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * EventStoreDB refuses an append over its MaxAppendSize (1 MiB unless the server says otherwise),
   * so a large append goes in chunks under `maxAppendBytes`, each expecting the revision the one
   * before left. Chunks are not one transaction: only bulk writers (restores, which clean up after
   * any failure) ever append that much; commands write an event or two.
   */
  async append(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    let expected = expectedVersion;
    let result: ClientAppendResult | undefined;
    for (const chunk of chunkForAppend(stream, events, this.maxAppendBytes)) {
      try {
        result = await this.client.appendToStream(stream, chunk.map(toEventData), { expectedRevision: toExpectedRevision(expected) });
      } catch (error) {
        throw mapAppendError(error, stream, expected, chunk.length);
      }
      expected = Number(result.nextExpectedRevision);
    }
    return toAppendResult(result!);
  }

  async appendMany(writes: StreamWrite[]): Promise<{ position: number }> {
    if (writes.length === 0) throw new Error('appendMany needs at least one write');
    let position = 0;
    for (const w of writes) position = (await this.append(w.stream, w.events, w.expectedVersion)).position;
    return { position };
  }

  async streamVersion(stream: string): Promise<number> {
    const read = this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    try {
      for await (const resolved of drain(read)) {
        if (resolved.event) return Number(resolved.event.revision);
      }
      return -1;
    } catch (error) {
      if (isMissingStream(error)) return -1;
      throw error;
    }
  }

  async *readStream(stream: string, fromVersion = 0): AsyncIterable<StoredEvent> {
    const read = this.client.readStream(stream, { direction: FORWARDS, fromRevision: BigInt(fromVersion) });
    try {
      for await (const resolved of drain(read)) {
        if (!isSystemEvent(resolved)) yield toStoredEvent(resolved);
      }
    } catch (error) {
      // A soft-deleted stream reads as not found, a tombstoned one as deleted: both are empty here.
      if (isMissingStream(error)) return;
      throw error;
    }
  }

  /**
   * One app's events without shipping the rest of the log: a catch-up subscription to $all with a
   * server-side stream-name filter (the 6.x client has filters on subscriptions, not on reads),
   * starting just before the app's first event (the first event of its own stream) and ending at
   * `until` (the head when the read starts), which the server's checkpoints and its "caught up"
   * signal tell even when the app's last event lies far before it. The server still scans $all
   * from that position, but hands over only the app's events, and an app created last year is
   * read from last year. (A per-app stream of links, built by a server projection, would make
   * this a stream read; it needs projections enabled on the server, which AppVault does not ask.)
   */
  async *readApp(appId: string, range: ReadRange = {}): AsyncIterable<StoredEvent> {
    const until = range.until ?? (await this.headPosition());
    const after = range.after ?? 0;
    if (until <= after) return;
    let from = after;
    if (from === 0) {
      // Without the app's own stream (deleted, or never written) the read starts at the beginning.
      const first = await this.firstPositionOf(streams.app(appId));
      if (first !== undefined) from = first - 1;
    }
    const purged = this.purgedEventFilter();
    for await (const resolved of this.filteredAll(appStreamRegex(appId), from, until)) {
      const event = toStoredEvent(resolved);
      if (!(await purged.isPurged(event))) yield event;
    }
  }

  /** Events of $all after `after` and up to `until` whose stream names match `regex`, in order. */
  private async *filteredAll(regex: string, after: number, until: number): AsyncGenerator<ResolvedEventLike> {
    let reachedEnd = false;
    let wake: (() => void) | undefined;
    const stop = () => {
      reachedEnd = true;
      wake?.();
    };
    const subscription = this.client.subscribeToAll({
      fromPosition: after > 0 ? toAllPosition(after) : START,
      filter: streamNameFilter({
        regex,
        checkpointInterval: 1,
        checkpointReached: (_subscription, position) => {
          if (Number(position.commit) >= until) stop();
        },
      }),
    });
    subscription.on('caughtUp', stop);
    const iterator = subscription[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = iterator.next();
        const ended = new Promise<'end'>((resolve) => {
          wake = () => resolve('end');
          if (reachedEnd) resolve('end');
        });
        const result = await Promise.race([next, ended]);
        if (result === 'end') {
          // What the server sent before it said so may still wait in the stream's buffer: the read
          // already asked for answers from it within a turn of the event loop, or not at all.
          let pending: Promise<IteratorResult<ResolvedEventLike> | undefined> = Promise.race([next, setImmediatePromise().then(() => undefined)]);
          for (;;) {
            const item = await pending;
            if (!item || item.done || (!isSystemEvent(item.value) && positionOf(item.value) > until)) return;
            if (!isSystemEvent(item.value)) yield item.value;
            if (subscription.readableLength === 0) return;
            pending = iterator.next();
          }
        }
        if (result.done) return;
        const resolved = result.value;
        if (isSystemEvent(resolved)) continue;
        if (positionOf(resolved) > until) return;
        yield resolved;
      }
    } finally {
      await subscription.unsubscribe().catch(() => undefined);
      subscription.destroy();
    }
  }

  /** The $all position of a stream's first event still there, undefined for no stream. */
  private async firstPositionOf(stream: string): Promise<number | undefined> {
    const read = this.client.readStream(stream, { direction: FORWARDS, fromRevision: START, maxCount: 1 });
    try {
      for await (const resolved of drain(read)) if (resolved.event) return positionOf(resolved);
      return undefined;
    } catch (error) {
      if (isMissingStream(error)) return undefined;
      throw error;
    }
  }

  /**
   * Counts the app's events from its first one: EventStoreDB keeps no per-app number, so a deep page
   * costs as much as reading the history up to it. A per-app stream of links would make it a
   * revision read; that belongs with the server-side per-app reads this adapter still lacks.
   */
  /**
   * With the previous page's last position the read starts there (a filtered read, so its cost is
   * the page's, however deep); a page asked for by number alone is counted to from the app's start.
   */
  async readAppPage(appId: string, after: HistoryCursor, limit: number): Promise<NumberedEvent[]> {
    const page: NumberedEvent[] = [];
    const resume = after.number > 0 && after.position !== undefined && after.position > 0;
    if (after.position) await this.checkCursor(appId, after);
    let number = resume ? after.number : 0;
    for await (const event of this.readApp(appId, resume ? { after: after.position } : {})) {
      number += 1;
      if (number <= after.number) continue;
      page.push({ ...event, number });
      if (page.length >= limit) break;
    }
    return page;
  }

  /**
   * A cursor is read from only if its position is one the server gave for one of the app's events:
   * a made-up position may lie inside a record, which the server refuses (or worse, reads from).
   * Only the number cannot be checked without counting; a wrong one numbers the page wrongly.
   */
  private async checkCursor(appId: string, cursor: HistoryCursor): Promise<void> {
    if (cursor.number < 1 || cursor.position === undefined || cursor.position < 1) throw new InvalidCursorError(cursor);
    let found: StoredEvent | undefined;
    try {
      const read = this.client.readAll({ direction: FORWARDS, fromPosition: toAllPosition(cursor.position), maxCount: 1 });
      for await (const resolved of drain(read)) if (!isSystemEvent(resolved)) found = toStoredEvent(resolved);
    } catch (error) {
      if (isTransient(error)) throw error;
      throw new InvalidCursorError(cursor);
    }
    if (found?.position !== cursor.position || found.metadata.appId !== appId) throw new InvalidCursorError(cursor);
  }

  /** Reads (at most `limit` events) what lies past the position: $all positions are byte offsets, not counts. */
  async countAfter(position: number, limit: number): Promise<number> {
    let count = 0;
    for await (const page of this.pagesOfAll({ after: position })) {
      count += page.length;
      if (count >= limit) return limit;
    }
    return count;
  }

  /**
   * EventStoreDB keeps no per-app number, so this reads the app's events once (paged, off the
   * event loop's critical path): a backup pays one extra read of the app for an exact total.
   */
  async countApp(appId: string, until: number): Promise<number> {
    let count = 0;
    for await (const _event of this.readApp(appId, { until })) count += 1;
    return count;
  }

  async *readAll(range: ReadRange = {}): AsyncIterable<StoredEvent> {
    for await (const page of this.pagesOfAll(range)) {
      for (const resolved of page) yield toStoredEvent(resolved);
    }
  }

  subscribe(after: number, handler: SubscriptionHandler, onError: (error: Error) => void, options: SubscribeOptions = {}): Subscription {
    const subscription = this.client.subscribeToAll({
      fromPosition: after > 0 ? toAllPosition(after) : START,
      filter: excludeSystemEvents(),
    });
    let closed = false;
    const stop = async () => {
      await subscription.unsubscribe();
      // Ends the async iterator even if the cancelled call never ends the stream itself.
      subscription.destroy();
    };
    // Events that arrive while the handler is busy wait here and go to it as one batch; past a
    // full batch the reader waits too, so memory stays bounded.
    const pending: StoredEvent[] = [];
    let ended = false;
    let wakeConsumer: (() => void) | undefined;
    let wakeReader: (() => void) | undefined;
    const read = async () => {
      for await (const resolved of subscription) {
        if (closed) return;
        if (isSystemEvent(resolved)) continue;
        pending.push(toStoredEvent(resolved));
        wakeConsumer?.();
        if (pending.length >= DEFAULT_BATCH) await new Promise<void>((resolve) => (wakeReader = resolve));
      }
      ended = true;
      wakeConsumer?.();
    };
    const consume = async () => {
      while (!closed) {
        if (pending.length === 0) {
          if (ended) throw new Error('The EventStoreDB subscription ended unexpectedly');
          await new Promise<void>((resolve) => (wakeConsumer = resolve));
          wakeConsumer = undefined;
          continue;
        }
        const batch = pending.splice(0, DEFAULT_BATCH);
        wakeReader?.();
        wakeReader = undefined;
        const skip = options.skip;
        await handler(skip ? batch.filter((e) => !(e.metadata.appId && skip(e.metadata.appId))) : batch, batch[batch.length - 1]!.position);
      }
    };
    const running = Promise.all([read(), consume()]).catch(async (error: unknown) => {
      if (closed) return;
      closed = true;
      wakeReader?.();
      await stop().catch(() => undefined);
      onError(error instanceof Error ? error : new Error(String(error)));
    });
    return {
      close: async () => {
        if (!closed) {
          closed = true;
          wakeConsumer?.();
          wakeReader?.();
          await stop();
        }
        await running;
      },
    };
  }

  async headPosition(): Promise<number> {
    let from: ReadPosition = END;
    for (;;) {
      let received = 0;
      let oldest: Position | undefined;
      const read = this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: HEAD_SCAN_BATCH });
      for await (const resolved of drain(read)) {
        received += 1;
        if (!isSystemEvent(resolved)) return positionOf(resolved);
        oldest = resolved.event?.position ?? oldest;
      }
      if (received < HEAD_SCAN_BATCH || !oldest) return 0;
      // Reading backwards from a position returns only what lies before it.
      from = oldest;
    }
  }

  /**
   * Tombstones every stream of the app: a purged app must never have existed, so its streams can
   * never be written again (its id was random; nothing needs it back). EventStoreDB keeps the
   * events in $all until a scavenge (schedule one; docs/production.md), so readAll and subscribe
   * still deliver them: the projection engine skips them by the purge record kept in the store
   * (`system-purges`), and readApp hides them (purgedEventFilter()).
   */
  async deleteApp(appId: string): Promise<void> {
    const appStreams = new Set<string>();
    for await (const event of this.readApp(appId)) appStreams.add(event.stream);
    for (const stream of appStreams) await this.deleteStream(stream);
  }

  async deleteStream(stream: string): Promise<void> {
    try {
      await this.client.tombstoneStream(stream, { expectedRevision: ANY });
    } catch (error) {
      if (!isMissingStream(error)) throw error;
    }
  }


  /**
   * A filter for events that $all still returns although their stream was deleted (or truncated).
   * It remembers what it looked up, so create one per catch-up or rebuild rather than keeping one
   * forever: a stream deleted after its look-up would still pass.
   */
  purgedEventFilter(): PurgedEventFilter {
    return new PurgedEventFilter((stream) => this.firstVisibleRevisionOf(stream));
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  private async firstVisibleRevisionOf(stream: string): Promise<number> {
    try {
      const { metadata } = await this.client.getStreamMetadata(stream);
      return firstVisibleRevision(metadata?.truncateBefore);
    } catch (error) {
      // A tombstoned stream hides everything, metadata included.
      if (error instanceof StreamDeletedError) return Number.POSITIVE_INFINITY;
      throw error;
    }
  }

  /**
   * Keyset paging over $all, one batch in memory at a time, system events left out. A read from a
   * position includes the event at that position, so each page after the first asks for one more
   * event than the batch and drops the one it already returned.
   */
  private async *pagesOfAll(range: ReadRange): AsyncIterable<ResolvedEventLike[]> {
    const batch = range.batchSize ?? DEFAULT_BATCH;
    const until = range.until ?? Number.POSITIVE_INFINITY;
    let after = range.after ?? 0;
    for (;;) {
      const maxCount = after > 0 ? batch + 1 : batch;
      const read = this.client.readAll({ direction: FORWARDS, fromPosition: after > 0 ? toAllPosition(after) : START, maxCount });
      const page: ResolvedEventLike[] = [];
      let received = 0;
      let last = after;
      let pastUntil = false;
      for await (const resolved of drain(read)) {
        received += 1;
        const position = positionOf(resolved);
        if (position <= after) continue;
        if (position > until) {
          pastUntil = true;
          break;
        }
        last = position;
        if (!isSystemEvent(resolved)) page.push(resolved);
      }
      if (page.length > 0) yield page;
      if (pastUntil || received < maxCount || last === after) return;
      after = last;
    }
  }
}

/**
 * Remembers, per stream, the first revision reads still show, and answers whether an event from
 * $all lies before it. Look-ups run a few at a time in load(); isPurged() looks up what load() missed.
 */
export class PurgedEventFilter {
  private readonly firstVisible = new Map<string, number>();

  constructor(private readonly lookUp: (stream: string) => Promise<number>) {}

  async load(streams: Iterable<string>): Promise<void> {
    const missing = [...new Set(streams)].filter((stream) => !this.firstVisible.has(stream));
    for (let i = 0; i < missing.length; i += METADATA_CONCURRENCY) {
      const chunk = missing.slice(i, i + METADATA_CONCURRENCY);
      const revisions = await Promise.all(chunk.map((stream) => this.lookUp(stream)));
      chunk.forEach((stream, n) => this.firstVisible.set(stream, revisions[n]!));
    }
  }

  async isPurged(event: Pick<StoredEvent, 'stream' | 'streamVersion'>): Promise<boolean> {
    if (!this.firstVisible.has(event.stream)) await this.load([event.stream]);
    return event.streamVersion < (this.firstVisible.get(event.stream) ?? 0);
  }
}

/** Port expected version to the client's: -1 means the stream must not exist yet. */
export function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === -1) return NO_STREAM;
  if (!Number.isSafeInteger(expected) || expected < -1) throw new RangeError(`Invalid expected version ${expected}`);
  return BigInt(expected);
}

/** The server's MaxAppendSize unless it was raised; EVENTSTORE_MAX_APPEND_BYTES tells the adapter otherwise. */
export const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;
/** What an event costs in an append besides its data and metadata (id, type, content types, framing). */
const EVENT_OVERHEAD_BYTES = 128;

/** An append the server would refuse even in chunks: one event larger than its MaxAppendSize. */
export class AppendTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppendTooLargeError';
  }
}

/** Splits events into consecutive chunks whose size stays within `maxBytes` (90% of it, for the protocol's own bytes). */
export function chunkForAppend(stream: string, events: readonly NewEvent[], maxBytes: number): NewEvent[][] {
  const budget = Math.floor(maxBytes * 0.9);
  const chunks: NewEvent[][] = [];
  let chunk: NewEvent[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = Buffer.byteLength(JSON.stringify(event.data)) + Buffer.byteLength(JSON.stringify(event.metadata)) + event.type.length + EVENT_OVERHEAD_BYTES;
    if (bytes > budget) {
      throw new AppendTooLargeError(
        `A ${event.type} event for ${stream} is about ${bytes} bytes, more than EventStoreDB accepts in one append (${maxBytes} bytes, EVENTSTORE_MAX_APPEND_BYTES); raise MaxAppendSize on the server and EVENTSTORE_MAX_APPEND_BYTES with it`,
      );
    }
    if (chunk.length > 0 && size + bytes > budget) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(event);
    size += bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The client's errors as the port's: a concurrency conflict with the stream's actual version (-1:
 * no stream), and the server's size limit with what to change.
 */
export function mapAppendError(error: unknown, stream: string, expected: ExpectedVersion, events = 0): Error {
  if (error instanceof ClientWrongExpectedVersionError) {
    const actual = error.actualVersion === NO_STREAM ? -1 : Number(error.actualVersion);
    return new WrongExpectedVersionError(stream, expected, actual);
  }
  if (error instanceof MaxAppendSizeExceededError) {
    return new AppendTooLargeError(
      `EventStoreDB refused an append of ${events} event(s) to ${stream}: larger than its MaxAppendSize of ${error.maxAppendSize} bytes. Set EVENTSTORE_MAX_APPEND_BYTES to at most that size, or raise MaxAppendSize on the server.`,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Global positions are the commit positions of $all, byte offsets into the transaction log, so a
 * Number holds them exactly up to 2^53 bytes (8 PiB) of log. Every event written without an explicit
 * transaction (the only kind the gRPC API writes) has commit position == prepare position == its own
 * log position, distinct and increasing even inside one multi-event append.
 */
export function toSafePosition(commit: bigint): number {
  if (commit < 0n || commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`EventStoreDB position ${commit} does not fit in a safe integer`);
  }
  return Number(commit);
}

/** The $all position of an event we handed out; see toSafePosition for why prepare equals commit. */
export function toAllPosition(position: number): Position {
  return { commit: BigInt(position), prepare: BigInt(position) };
}

/** The global position of a read event; 0 would be the log's first record, never a user event. */
export function positionOf(resolved: ResolvedEventLike): number {
  const commit = resolved.event?.position?.commit ?? resolved.commitPosition;
  if (commit === undefined || commit === 0n) {
    throw new Error(
      `EventStoreDB reported no position for event ${resolved.event?.streamId ?? '?'}@${resolved.event?.revision ?? '?'}` +
        ' (stream reads carry positions from server 22.6 on)',
    );
  }
  return toSafePosition(commit);
}

export function toAppendResult(result: Pick<ClientAppendResult, 'nextExpectedRevision' | 'position'>): AppendResult {
  if (!result.position) throw new Error('EventStoreDB reported no position for the append');
  // The append reports the commit position of its last event, the same number $all shows for it.
  return { streamVersion: Number(result.nextExpectedRevision), position: toSafePosition(result.position.commit) };
}

/** System events and streams start with `$`; they are the server's bookkeeping, never AppVault's. */
export function isSystemEvent(resolved: ResolvedEventLike): boolean {
  const event = resolved.event;
  return !event || event.type.startsWith('$') || event.streamId.startsWith('$');
}

export function toStoredEvent(resolved: ResolvedEventLike): StoredEvent {
  const event = resolved.event;
  if (!event) throw new Error('EventStoreDB returned a read result without an event');
  const where = `${event.streamId}@${event.revision}`;
  if (!event.isJson || !isPlainObject(event.data)) throw new Error(`Event ${where} is not a JSON object`);
  if (!isEventMetadata(event.metadata)) throw new Error(`Event ${where} has no AppVault metadata`);
  return {
    stream: event.streamId,
    streamVersion: Number(event.revision),
    position: positionOf(resolved),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
  };
}

export function toEventData(event: NewEvent) {
  return jsonEvent({ type: event.type, data: event.data, metadata: { ...event.metadata } });
}

/**
 * The source of a regular expression matching exactly the streams of one app: `app-{id}` and
 * `{schema|content|asset}-{id}--{childId}`. It uses only syntax .NET and JavaScript read alike, so
 * the same string can serve as a server-side stream filter once the client can send one on reads.
 */
export function appStreamRegex(appId: string): string {
  const id = escapeRegex(appId);
  return `^(?:app-${id}|(?:schema|content|asset)-${id}--.+)$`;
}

export function appStreamFilter(appId: string): RegExp {
  return new RegExp(appStreamRegex(appId));
}

/** Metadata `$tb` (truncate before) hides earlier revisions; a soft delete sets it past the end. */
export function firstVisibleRevision(truncateBefore: unknown): number {
  if (typeof truncateBefore === 'number') return truncateBefore;
  if (typeof truncateBefore === 'bigint') return Number(truncateBefore);
  if (truncateBefore === END) return Number.POSITIVE_INFINITY;
  return 0;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Errors of the connection or the cluster, not of the request: a retry may succeed. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof NotLeaderError ||
    error instanceof CancelledError ||
    error instanceof TimeoutError ||
    error instanceof AccessDeniedError
  );
}

function isMissingStream(error: unknown): boolean {
  return error instanceof StreamNotFoundError || error instanceof StreamDeletedError;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isEventMetadata(value: unknown): value is EventMetadata {
  if (!isPlainObject(value)) return false;
  return (
    typeof value['actor'] === 'string' &&
    typeof value['timestamp'] === 'string' &&
    typeof value['schemaVersion'] === 'number' &&
    (value['appId'] === undefined || typeof value['appId'] === 'string')
  );
}

/** Iterates a client read and, when the consumer stops early, cancels the gRPC call behind it. */
async function* drain<T>(read: StreamingRead<T>): AsyncGenerator<T> {
  try {
    for await (const item of read) yield item;
  } finally {
    if (!read.readableEnded) await read.cancel();
  }
}
