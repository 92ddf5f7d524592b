import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import {
  ANY,
  type AppendResult as ClientAppendResult,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  type Position,
  type ReadPosition,
  START,
  streamNameFilter,
} from '@eventstore/db-client';
import {
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type HistoryCursor,
  InvalidCursorError,
  markWritesStoredBefore,
  type NewEvent,
  type NumberedEvent,
  type ReadRange,
  type StoredEvent,
  type StreamWrite,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
  streams,
} from './event-store.port.js';
import { AppIndexReader, AppIndexWriter, type IndexProgress, indexStreamOf, type Link } from './eventstoredb-app-index.js';
import {
  appStreamRegex,
  chunkForAppend,
  comparePositions,
  DEFAULT_MAX_APPEND_BYTES,
  drain,
  isBookkeeping,
  isMissingStream,
  mapAppendError,
  positionOf,
  type ResolvedEventLike,
  toAllPosition,
  toAppendResult,
  toEventData,
  toExpectedRevision,
  toStoredEvent,
  whyForeign,
} from './eventstoredb-mapping.js';

const DEFAULT_BATCH = 500;
/** Backward reads for the head step over bookkeeping records (index links, checkpoints) with growing pages. */
const HEAD_SCAN_BATCHES = [20, 100, 500];
/** A filtered $all read checkpoints every 32 × this many records; kept to about this many checkpoints per read. */
const CHECKPOINTS_PER_READ = 64;
/** A rough size of a record in the log, to size a read's checkpoint interval from its byte range. */
const AVERAGE_RECORD_BYTES = 256;
/** How long closing waits for the client's calls to end. */
const DISPOSE_WAIT_MS = 5000;

export interface EventStoreDbOptions {
  /** The server's MaxAppendSize (EVENTSTORE_MAX_APPEND_BYTES): larger appends go in chunks. */
  maxAppendBytes?: number;
}

/**
 * EventStoreDB (KurrentDB) through its gRPC client. Needs server 22.6 or newer: older servers do not
 * report an event's position when a stream is read, and the port needs it on every event. Nothing
 * in the server's configuration is needed (no projections): whole-app reads go through AppVault's
 * own per-app index (eventstoredb-app-index.ts), which `maintain` writes.
 *
 * Deletes are tombstones: a purged app's streams (and its index) can never be written again, and
 * their events stay in $all until a scavenge; reads of the app no longer show them.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly logger = new Logger('EventStoreDB');
  private readonly client: EventStoreDBClient;
  private readonly maxAppendBytes: number;
  private readonly index: AppIndexReader;
  private readonly maintenance = new Map<AbortController, Promise<void>>();
  /** Events in the store that are not AppVault's, skipped (the first is logged). */
  foreignEvents = 0;

  /** Takes a connection string such as `esdb://localhost:2113?tls=false`, or a client to share. */
  constructor(connection: string | EventStoreDBClient, options: EventStoreDbOptions = {}) {
    this.client = typeof connection === 'string' ? EventStoreDBClient.connectionString(connection) : connection;
    this.maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES;
    this.index = new AppIndexReader(this.client);
  }

  /**
   * The client connects lazily; this makes one read of $all so a wrong URL, missing credentials or
   * a server that is down fail at startup rather than on the first request.
   */
  static async connect(connectionString: string, options: EventStoreDbOptions = {}): Promise<EventStoreDbEventStore> {
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
   * before left. Chunks are not one transaction: only bulk writers (restores, rollbacks) append that
   * much, and they send what failed again with the same event ids (NewEvent.id).
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

  /** Stream by stream, in order; a failure says how many writes were stored before it (writesStoredBefore). */
  async appendMany(writes: StreamWrite[]): Promise<{ position: number }> {
    if (writes.length === 0) throw new Error('appendMany needs at least one write');
    let position = 0;
    for (let i = 0; i < writes.length; i += 1) {
      const write = writes[i]!;
      try {
        position = (await this.append(write.stream, write.events, write.expectedVersion)).position;
      } catch (error) {
        throw markWritesStoredBefore(error instanceof Error ? error : new Error(String(error)), i);
      }
    }
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
        const event = this.appVaultEvent(resolved);
        if (event) yield event;
      }
    } catch (error) {
      // A soft-deleted stream reads as not found, a tombstoned one as deleted: both are empty here.
      if (isMissingStream(error)) return;
      throw error;
    }
  }

  /**
   * One app's events, from its index (a stream read: the app's events only) and, for what the
   * index writer has not reached yet, a filtered $all read from where it stopped.
   */
  async *readApp(appId: string, range: ReadRange = {}): AsyncIterable<StoredEvent> {
    const until = range.until ?? (await this.headPosition());
    const after = range.after ?? 0;
    if (until <= after) return;
    for await (const { number: _number, ...event } of this.appEvents(appId, { after, until, batch: range.batchSize ?? DEFAULT_BATCH })) yield event;
  }

  /** Event n of the app is link n - 1 of its index, so any page costs the page (plus what the index has not reached). */
  async readAppPage(appId: string, after: HistoryCursor, limit: number): Promise<NumberedEvent[]> {
    const page: NumberedEvent[] = [];
    if (limit <= 0) return page;
    // A cursor's position must be the one the event it numbers has: one read from the event before
    // the page checks it, so a made-up cursor is refused rather than read from.
    const checked = after.position !== undefined && after.position > 0;
    if (checked && after.number < 1) throw new InvalidCursorError(after);
    const until = await this.headPosition();
    const fromNumber = checked ? after.number - 1 : after.number;
    let seen = !checked;
    for await (const event of this.appEvents(appId, { after: 0, until, fromNumber, batch: Math.min(limit + 1, DEFAULT_BATCH) })) {
      if (!seen) {
        if (event.number !== after.number || event.position !== after.position) throw new InvalidCursorError(after);
        seen = true;
        continue;
      }
      page.push(event);
      if (page.length >= limit) break;
    }
    if (!seen) throw new InvalidCursorError(after);
    return page;
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

  /** From the index: a binary search over its links, plus what the index writer has not reached yet. */
  async countApp(appId: string, until: number): Promise<number> {
    const last = await this.index.lastLink(appId);
    if (last === 'deleted') return 0;
    if (last && last.position >= until) return this.index.firstRevisionAfter(appId, until, last);
    let count = last ? last.revision + 1 : 0;
    for await (const event of this.appEvents(appId, { after: 0, until, fromNumber: count, batch: DEFAULT_BATCH })) count = event.number;
    return count;
  }

  async *readAll(range: ReadRange = {}): AsyncIterable<StoredEvent> {
    for await (const page of this.pagesOfAll(range)) yield* page;
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
    // full batch the reader waits too, so memory stays bounded. An event that is not AppVault's
    // is not handed over, but the batch's `through` covers it.
    const pending: { event?: StoredEvent; position: number }[] = [];
    let ended = false;
    let wakeConsumer: (() => void) | undefined;
    let wakeReader: (() => void) | undefined;
    const read = async () => {
      for await (const resolved of subscription as AsyncIterable<ResolvedEventLike>) {
        if (closed) return;
        if (isBookkeeping(resolved)) continue;
        const event = this.appVaultEvent(resolved);
        pending.push(event ? { event, position: event.position } : { position: positionOf(resolved) });
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
        const entries = pending.splice(0, DEFAULT_BATCH);
        wakeReader?.();
        wakeReader = undefined;
        const skip = options.skip;
        const batch = entries.flatMap((entry) => (entry.event && !(skip && entry.event.metadata.appId && skip(entry.event.metadata.appId)) ? [entry.event] : []));
        await handler(batch, entries[entries.length - 1]!.position);
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

  /**
   * The newest event's position, read backwards from the end past the server's and AppVault's
   * bookkeeping records. Index links follow the events they link, so the end of the log may be a
   * run of them: the index writer's checkpoint names the newest event at or before it, so the read
   * goes back at most to the checkpoint (links written in the last quarter second, mostly). Only
   * while the writer catches up on a backlog does the run reach further back than its checkpoint.
   */
  async headPosition(): Promise<number> {
    let from: ReadPosition = END;
    let progress: IndexProgress | undefined | null = null;
    for (let round = 0; ; round += 1) {
      const batch = HEAD_SCAN_BATCHES[Math.min(round, HEAD_SCAN_BATCHES.length - 1)]!;
      let received = 0;
      let oldest: Position | undefined;
      const read = this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: batch });
      for await (const resolved of drain(read)) {
        received += 1;
        if (!isBookkeeping(resolved)) return positionOf(resolved);
        oldest = resolved.event?.position ?? oldest;
        if (progress && oldest && comparePositions(oldest, progress.through) <= 0) return progress.newest;
      }
      if (received < batch || !oldest) return progress?.newest ?? 0;
      if (progress === null) {
        progress = await this.index.progress();
        if (progress && comparePositions(oldest, progress.through) <= 0) return progress.newest;
      }
      // Reading backwards from a position returns only what lies before it.
      from = oldest;
    }
  }

  /**
   * Tombstones every stream of the app, then its index: a purged app must never have existed, so
   * its streams can never be written again (its id was random; nothing needs it back). The streams
   * are those its index links to (also links whose events are gone already, from a purge that was
   * interrupted) and those of events not linked yet. EventStoreDB keeps the events in $all until a
   * scavenge (schedule one; docs/production.md): the projection engine skips them by the purge
   * record kept in the store (`system-purges`).
   */
  async deleteApp(appId: string): Promise<void> {
    const appStreams = new Set<string>([streams.app(appId)]);
    let linked = 0;
    for await (const { link } of this.index.links(appId, 0, { resolve: false, batch: DEFAULT_BATCH })) {
      appStreams.add(link.stream);
      linked = link.revision + 1;
    }
    const until = await this.headPosition();
    for await (const event of this.appEvents(appId, { after: 0, until, fromNumber: linked, batch: DEFAULT_BATCH })) appStreams.add(event.stream);
    for (const stream of appStreams) await this.deleteStream(stream);
    await this.deleteStream(indexStreamOf(appId));
  }

  async deleteStream(stream: string): Promise<void> {
    try {
      await this.client.tombstoneStream(stream, { expectedRevision: ANY });
    } catch (error) {
      if (!isMissingStream(error)) throw error;
    }
  }

  /** Writes the per-app index until `stop` aborts or the store closes (see AppIndexWriter). */
  async maintain(stop: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    stop.addEventListener('abort', abort);
    if (stop.aborted) controller.abort();
    const run = new AppIndexWriter(this.client, this.index).run(controller.signal);
    this.maintenance.set(
      controller,
      run.catch(() => undefined),
    );
    try {
      await run;
    } finally {
      stop.removeEventListener('abort', abort);
      this.maintenance.delete(controller);
    }
  }

  /**
   * Stops the upkeep, then disposes of the client. The client's dispose waits for every call it
   * opened to end, and a call a lost connection left half open can keep it waiting for ever: a
   * shutdown does not wait longer than DISPOSE_WAIT_MS for it.
   */
  async close(): Promise<void> {
    for (const controller of this.maintenance.keys()) controller.abort();
    await Promise.all(this.maintenance.values());
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      this.client.dispose().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), DISPOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (gaveUp) this.logger.warn(`The EventStoreDB client still had calls open ${DISPOSE_WAIT_MS} ms after it was disposed of; closing without them`);
  }

  /**
   * The app's events numbered 1, 2, 3… as they happened, after `after` and up to `until`: the index
   * first (from link `fromNumber`, or from the first link after `after`), then what the index writer
   * has not linked yet, from the last linked event or the writer's checkpoint, whichever is later
   * (both positions the server returned). Numbers are exact when the read starts at a link (with
   * `fromNumber`, or `after` 0).
   */
  private async *appEvents(appId: string, options: { after: number; until: number; fromNumber?: number; batch: number }): AsyncGenerator<NumberedEvent> {
    const { after, until } = options;
    // The checkpoint first: every app event at or before it was linked before it was saved.
    const through = (await this.index.progress())?.through;
    const last = await this.index.lastLink(appId);
    if (last === 'deleted') return;
    let lastLinked: Link | undefined = last;
    if (last) {
      const start = options.fromNumber ?? (after > 0 ? await this.index.firstRevisionAfter(appId, after, last) : 0);
      for await (const { link, event } of this.index.links(appId, start, { resolve: true, batch: options.batch })) {
        lastLinked = link;
        if (link.position > until) return;
        // A link whose event is gone (a deleted stream) keeps its number but shows nothing.
        const stored = event && link.position > after ? this.appVaultEvent(event) : undefined;
        if (stored) yield { ...stored, number: link.revision + 1 };
      }
    }
    let number = lastLinked ? lastLinked.revision + 1 : 0;
    let from = latest([lastLinked ? toAllPosition(lastLinked.position) : undefined, through, after > 0 ? toAllPosition(after) : undefined]);
    if (!from) {
      // Nothing linked and no checkpoint yet: the app starts at its first event, the first of its own stream.
      const first = await this.firstEventOf(streams.app(appId));
      if (!first || first.position > until) return;
      number += 1;
      if (options.fromNumber === undefined || number > options.fromNumber) yield { ...first, number };
      from = toAllPosition(first.position);
    }
    if (comparePositions(from, toAllPosition(until)) >= 0) return;
    for await (const resolved of this.filteredAll(appStreamRegex(appId), from, until)) {
      const event = this.appVaultEvent(resolved);
      if (!event || event.position <= after) continue;
      number += 1;
      if (options.fromNumber !== undefined && number <= options.fromNumber) continue;
      yield { ...event, number };
    }
  }

  /**
   * Events of $all after `from` and up to `until` whose stream names match `regex`, in order: a
   * catch-up subscription with the server-side filter (the 6.x client has filters on subscriptions,
   * not on reads). The server's checkpoints, or its "caught up" signal, tell when `until` is passed
   * even when no matching event follows. The checkpoint interval is sized to the range, so a long
   * read handles a few dozen checkpoints, not one per 32 records.
   */
  private async *filteredAll(regex: string, from: Position, until: number): AsyncGenerator<ResolvedEventLike> {
    const records = Math.max(0, until - Number(from.commit)) / AVERAGE_RECORD_BYTES;
    const checkpointInterval = Math.max(1, Math.min(10_000, Math.ceil(records / (32 * CHECKPOINTS_PER_READ))));
    const end = toAllPosition(until);
    let reachedEnd = false;
    let wake: (() => void) | undefined;
    const stop = () => {
      reachedEnd = true;
      wake?.();
    };
    const subscription = this.client.subscribeToAll({
      fromPosition: from,
      filter: streamNameFilter({
        regex,
        checkpointInterval,
        // A checkpoint (P, 0) means "everything before the record at P": `until` itself is passed only at (until, until) or beyond.
        checkpointReached: (_subscription, position) => {
          if (comparePositions(position, end) >= 0) stop();
        },
      }),
    });
    subscription.on('caughtUp', stop);
    const iterator = (subscription as AsyncIterable<ResolvedEventLike>)[Symbol.asyncIterator]();
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
            if (!item || item.done) return;
            if (!isBookkeeping(item.value)) {
              if (positionOf(item.value) > until) return;
              yield item.value;
            }
            if (subscription.readableLength === 0) return;
            pending = iterator.next();
          }
        }
        if (result.done) return;
        const resolved = result.value;
        if (isBookkeeping(resolved)) continue;
        if (positionOf(resolved) > until) return;
        yield resolved;
      }
    } finally {
      await subscription.unsubscribe().catch(() => undefined);
      subscription.destroy();
    }
  }

  /** The first AppVault event of a stream, undefined for no stream. */
  private async firstEventOf(stream: string): Promise<StoredEvent | undefined> {
    const read = this.client.readStream(stream, { direction: FORWARDS, fromRevision: START, maxCount: 1 });
    try {
      for await (const resolved of drain(read)) return this.appVaultEvent(resolved);
      return undefined;
    } catch (error) {
      if (isMissingStream(error)) return undefined;
      throw error;
    }
  }

  /**
   * Keyset paging over $all, one batch in memory at a time, bookkeeping and foreign events left
   * out. A read from a position includes the event at that position, so each page after the first
   * asks for one more event than the batch and drops the one it already returned.
   */
  private async *pagesOfAll(range: ReadRange): AsyncIterable<StoredEvent[]> {
    const batch = range.batchSize ?? DEFAULT_BATCH;
    const until = range.until ?? Number.POSITIVE_INFINITY;
    let after = range.after ?? 0;
    for (;;) {
      const maxCount = after > 0 ? batch + 1 : batch;
      const read = this.client.readAll({ direction: FORWARDS, fromPosition: after > 0 ? toAllPosition(after) : START, maxCount });
      const page: StoredEvent[] = [];
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
        const event = this.appVaultEvent(resolved);
        if (event) page.push(event);
      }
      if (page.length > 0) yield page;
      if (pastUntil || received < maxCount || last === after) return;
      after = last;
    }
  }

  /**
   * The port's event, or undefined for a record that is not an AppVault event: bookkeeping (left
   * out silently) or an event another program wrote to the same store (counted; the first is
   * logged). A store shared with other software must not stop AppVault's projections.
   */
  private appVaultEvent(resolved: ResolvedEventLike): StoredEvent | undefined {
    if (isBookkeeping(resolved)) return undefined;
    const reason = whyForeign(resolved.event!);
    if (!reason) return toStoredEvent(resolved);
    this.foreignEvents += 1;
    if (this.foreignEvents === 1 || this.foreignEvents % 10_000 === 0) {
      this.logger.warn(
        `Skipping an event that is not AppVault's: ${JSON.stringify(`${resolved.event!.streamId}@${resolved.event!.revision}`)} (${resolved.event!.type.slice(0, 100)}) because ${reason}; ${this.foreignEvents} skipped so far`,
      );
    }
    return undefined;
  }
}

/** The latest of some positions (undefined ones left out). */
function latest(positions: readonly (Position | undefined)[]): Position | undefined {
  let result: Position | undefined;
  for (const position of positions) if (position && (!result || comparePositions(position, result) > 0)) result = position;
  return result;
}
