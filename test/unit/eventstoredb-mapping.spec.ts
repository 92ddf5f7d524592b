import { randomUUID } from 'node:crypto';
import {
  type EventStoreDBClient,
  MaxAppendSizeExceededError,
  type Position,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { streams, WrongExpectedVersionError } from '../../src/infrastructure/event-store/event-store.port.js';
import {
  AppendTooLargeError,
  appStreamFilter,
  appStreamRegex,
  chunkForAppend,
  EventStoreDbEventStore,
  firstVisibleRevision,
  isSystemEvent,
  mapAppendError,
  positionOf,
  PurgedEventFilter,
  type ResolvedEventLike,
  toAllPosition,
  toAppendResult,
  toEventData,
  toExpectedRevision,
  toSafePosition,
  toStoredEvent,
} from '../../src/infrastructure/event-store/eventstoredb-event-store.adapter.js';
import { eventStoreContract } from '../contract/event-store.contract.js';

const metadata = { appId: 'a1', actor: 'user-1', timestamp: '2024-01-01T00:00:00.000Z', schemaVersion: 1 };

const resolved = (overrides: Partial<NonNullable<ResolvedEventLike['event']>> = {}, commitPosition?: bigint): ResolvedEventLike => ({
  event: {
    streamId: 'app-a1',
    revision: 3n,
    type: 'AppUpdated',
    isJson: true,
    data: { name: 'x' },
    metadata,
    position: { commit: 4096n, prepare: 4096n },
    ...overrides,
  },
  ...(commitPosition === undefined ? {} : { commitPosition }),
});

describe('EventStoreDB mapping: expected versions', () => {
  it('maps -1 to no_stream, any to any and a version to a bigint revision', () => {
    expect(toExpectedRevision(-1)).toBe('no_stream');
    expect(toExpectedRevision('any')).toBe('any');
    expect(toExpectedRevision(0)).toBe(0n);
    expect(toExpectedRevision(41)).toBe(41n);
  });

  it('refuses versions that are not revisions', () => {
    expect(() => toExpectedRevision(-2)).toThrow(RangeError);
    expect(() => toExpectedRevision(1.5)).toThrow(RangeError);
  });
});

describe('EventStoreDB mapping: append errors', () => {
  const clientError = (current: bigint | 'no_stream') =>
    new ClientWrongExpectedVersionError(undefined, { streamName: 'app-a1', expected: 5n, current });

  it('turns the client concurrency error into the port one with the actual version', () => {
    const mapped = mapAppendError(clientError(0n), 'app-a1', 5);
    expect(mapped).toBeInstanceOf(WrongExpectedVersionError);
    expect(mapped).toMatchObject({ stream: 'app-a1', expected: 5, actual: 0 });
  });

  it('reports -1 when the stream does not exist', () => {
    expect(mapAppendError(clientError('no_stream'), 'app-a1', 5)).toMatchObject({ actual: -1 });
  });

  it('passes other errors through and wraps non-errors', () => {
    const other = new Error('boom');
    expect(mapAppendError(other, 'app-a1', 'any')).toBe(other);
    expect(mapAppendError('bad', 'app-a1', 'any')).toEqual(new Error('bad'));
  });
});

describe('EventStoreDB mapping: positions', () => {
  it('converts commit positions to numbers while they are safe integers', () => {
    expect(toSafePosition(123_456n)).toBe(123_456);
    expect(toSafePosition(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toSafePosition(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toThrow(RangeError);
    expect(() => toSafePosition(-1n)).toThrow(RangeError);
  });

  it('reads from a handed-out position with prepare equal to commit', () => {
    expect(toAllPosition(4096)).toEqual({ commit: 4096n, prepare: 4096n });
  });

  it("takes the event's own position, else the read's commit position", () => {
    expect(positionOf(resolved())).toBe(4096);
    const { position: _omitted, ...withoutPosition } = resolved().event!;
    expect(positionOf({ event: withoutPosition, commitPosition: 8192n })).toBe(8192);
  });

  it('fails clearly when the server reports no position', () => {
    const { position: _omitted, ...withoutPosition } = resolved().event!;
    expect(() => positionOf({ event: withoutPosition })).toThrow(/no position/);
    expect(() => positionOf(resolved({ position: { commit: 0n, prepare: 0n } }))).toThrow(/no position/);
  });

  it('maps an append result to the new stream version and the last event position', () => {
    expect(toAppendResult({ nextExpectedRevision: 1n, position: { commit: 700n, prepare: 700n } })).toEqual({ streamVersion: 1, position: 700 });
    expect(() => toAppendResult({ nextExpectedRevision: 1n })).toThrow(/no position/);
  });
});

describe('EventStoreDB mapping: events', () => {
  it('maps a resolved event to a stored event', () => {
    expect(toStoredEvent(resolved())).toEqual({
      stream: 'app-a1',
      streamVersion: 3,
      position: 4096,
      type: 'AppUpdated',
      data: { name: 'x' },
      metadata,
    });
  });

  it('refuses events that are not AppVault JSON events', () => {
    expect(() => toStoredEvent(resolved({ isJson: false, data: new Uint8Array([1]) }))).toThrow(/JSON object/);
    expect(() => toStoredEvent(resolved({ data: [1, 2] }))).toThrow(/JSON object/);
    expect(() => toStoredEvent(resolved({ metadata: { actor: 'x' } }))).toThrow(/metadata/);
    expect(() => toStoredEvent({})).toThrow(/without an event/);
  });

  it('recognises system events by type or stream', () => {
    expect(isSystemEvent(resolved())).toBe(false);
    expect(isSystemEvent(resolved({ type: '$metadata' }))).toBe(true);
    expect(isSystemEvent(resolved({ streamId: '$$app-a1' }))).toBe(true);
    expect(isSystemEvent({})).toBe(true);
  });

  it('writes events as JSON with the metadata object', () => {
    const data = toEventData({ type: 'AppCreated', data: { n: 1 }, metadata });
    expect(data).toMatchObject({ contentType: 'application/json', type: 'AppCreated', data: { n: 1 }, metadata });
    expect(data.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('EventStoreDB mapping: app stream filter', () => {
  const appId = '3f2b8c1e-0000-4000-8000-000000000001';

  it("matches exactly the app's own streams", () => {
    const filter = appStreamFilter(appId);
    expect(filter.test(streams.app(appId))).toBe(true);
    expect(filter.test(streams.child('schema', appId, 's1'))).toBe(true);
    expect(filter.test(streams.child('content', appId, 'c1'))).toBe(true);
    expect(filter.test(streams.child('asset', appId, 'a-1'))).toBe(true);
  });

  it('does not match another app whose id shares a prefix, nor other kinds of stream', () => {
    const filter = appStreamFilter(appId);
    const longer = `${appId}7`;
    expect(filter.test(streams.app(longer))).toBe(false);
    expect(filter.test(streams.child('content', longer, 'c1'))).toBe(false);
    expect(filter.test(`content-${appId}-x--c1`)).toBe(false);
    expect(filter.test(`content-${appId}--`)).toBe(false);
    expect(filter.test(`app-${appId}--c1`)).toBe(false);
    expect(filter.test(streams.user(appId))).toBe(false);
    expect(filter.test(`$$app-${appId}`)).toBe(false);
    expect(filter.test(`x-app-${appId}`)).toBe(false);
  });

  it('escapes the app id so its characters match only themselves', () => {
    const filter = appStreamFilter('a.b+c');
    expect(filter.test('app-a.b+c')).toBe(true);
    expect(filter.test('app-aXbbc')).toBe(false);
    expect(appStreamRegex('a.b')).toBe('^(?:app-a\\.b|(?:schema|content|asset)-a\\.b--.+)$');
  });
});

describe('EventStoreDB mapping: deleted streams', () => {
  it('reads the first visible revision from $tb', () => {
    expect(firstVisibleRevision(undefined)).toBe(0);
    expect(firstVisibleRevision(7)).toBe(7);
    expect(firstVisibleRevision(7n)).toBe(7);
    expect(firstVisibleRevision('end')).toBe(Number.POSITIVE_INFINITY);
    // A soft delete writes long.MaxValue, which JSON parsing turns into a (huge) float.
    expect(firstVisibleRevision(9223372036854775807)).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });

  it('hides events before the first visible revision and looks each stream up once', async () => {
    const lookUps: string[] = [];
    const filter = new PurgedEventFilter(async (stream) => {
      lookUps.push(stream);
      return stream === 'app-gone' ? Number.POSITIVE_INFINITY : stream === 'app-recreated' ? 3 : 0;
    });
    await filter.load(['app-gone', 'app-recreated', 'app-gone']);
    expect(await filter.isPurged({ stream: 'app-gone', streamVersion: 0 })).toBe(true);
    expect(await filter.isPurged({ stream: 'app-recreated', streamVersion: 2 })).toBe(true);
    expect(await filter.isPurged({ stream: 'app-recreated', streamVersion: 3 })).toBe(false);
    expect(await filter.isPurged({ stream: 'app-live', streamVersion: 0 })).toBe(false);
    expect(await filter.isPurged({ stream: 'app-live', streamVersion: 1 })).toBe(false);
    expect(lookUps.sort()).toEqual(['app-gone', 'app-live', 'app-recreated']);
  });
});

/**
 * A stand-in for the client, written to the server behaviour the adapter relies on: positions with
 * commit == prepare, forward $all reads inclusive of their start, backward reads and subscriptions
 * exclusive of it, soft deletes that set $tb and leave the events in $all, stream reads of a deleted
 * stream answering "not found". It checks the adapter's own logic (paging, ranges, hiding deleted
 * events, one-at-a-time delivery); whether a real server behaves so is the external contract's job.
 */
interface FakeRecord {
  streamId: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  position: Position;
}

interface EventInput {
  type: string;
  data: unknown;
  metadata?: unknown;
}

const SOFT_DELETED = 9223372036854775807;

class FakeRead<T> implements AsyncIterable<T> {
  readableEnded = false;
  cancelled = false;

  constructor(private readonly produce: () => T[]) {}

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const items = this.produce();
    for (const item of items) {
      if (this.cancelled) return;
      yield item;
    }
    this.readableEnded = true;
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

class FakeEventStoreDbClient {
  /** Like the server's MaxAppendSize: an append whose data and metadata pass it is refused. */
  maxAppendSize = Number.POSITIVE_INFINITY;
  appends = 0;
  private readonly log: FakeRecord[] = [];
  private readonly truncateBefore = new Map<string, number>();
  private readonly tombstoned = new Set<string>();
  private nextPosition = 1000n;
  private readonly listeners = new Set<() => void>();

  async appendToStream(streamName: string, events: EventInput[], options: { expectedRevision: unknown }) {
    this.appends += 1;
    const size = events.reduce((n, e) => n + JSON.stringify(e.data).length + JSON.stringify(e.metadata).length, 0);
    if (size > this.maxAppendSize) throw MaxAppendSizeExceededError.fromMaxAppendSize(this.maxAppendSize);
    if (this.tombstoned.has(streamName)) throw StreamDeletedError.fromStreamName(streamName);
    const current = this.lastRevision(streamName);
    const softDeleted = this.truncateBefore.get(streamName) === SOFT_DELETED;
    const expected = options.expectedRevision;
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && (current === -1 || softDeleted)) ||
      (typeof expected === 'bigint' && Number(expected) === current);
    if (!ok) {
      throw new ClientWrongExpectedVersionError(undefined, {
        streamName,
        expected: expected === 'no_stream' || expected === 'any' || typeof expected === 'bigint' ? expected : 'any',
        current: current === -1 ? 'no_stream' : BigInt(current),
      });
    }
    if (softDeleted) this.setTruncateBefore(streamName, current + 1);
    let revision = current;
    let position: Position = { commit: 0n, prepare: 0n };
    for (const event of events) {
      revision += 1;
      position = this.write(streamName, BigInt(revision), event.type, event.data, event.metadata);
    }
    return { success: true, nextExpectedRevision: BigInt(revision), position };
  }

  readStream(streamName: string, options: { direction?: string; fromRevision?: bigint | 'start' | 'end'; maxCount?: number }) {
    return new FakeRead(() => {
      if (this.tombstoned.has(streamName)) throw StreamDeletedError.fromStreamName(streamName);
      const visibleFrom = this.truncateBefore.get(streamName) ?? 0;
      const records = this.log.filter((r) => r.streamId === streamName && Number(r.revision) >= visibleFrom);
      if (records.length === 0) throw new StreamNotFoundError(undefined, streamName);
      const ordered = options.direction === 'backwards' ? [...records].reverse() : records;
      const from = options.fromRevision;
      const selected = typeof from === 'bigint' ? ordered.filter((r) => r.revision >= from) : ordered;
      const page = selected.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER);
      this.handedOver += page.length;
      return page.map((r) => ({ event: this.recorded(r) }));
    });
  }

  readAll(options: { direction?: string; fromPosition?: Position | 'start' | 'end'; maxCount?: number }) {
    return new FakeRead(() => {
      const from = options.fromPosition ?? 'start';
      const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
      const selected =
        options.direction === 'backwards'
          ? [...this.log].reverse().filter((r) => from === 'end' || from === 'start' || r.position.commit < from.commit)
          : this.log.filter((r) => from === 'start' || (from !== 'end' && r.position.commit >= from.commit));
      const page = selected.slice(0, maxCount);
      this.handedOver += page.length;
      return page.map((r) => this.resolvedFromAll(r));
    });
  }

  async getStreamMetadata(streamName: string) {
    if (this.tombstoned.has(streamName)) throw StreamDeletedError.fromStreamName(streamName);
    const truncateBefore = this.truncateBefore.get(streamName);
    return truncateBefore === undefined ? { streamName } : { streamName, metadata: { truncateBefore } };
  }

  async deleteStream(streamName: string) {
    if (this.lastRevision(streamName) === -1) {
      throw new ClientWrongExpectedVersionError(undefined, { streamName, expected: 'any', current: 'no_stream' });
    }
    this.setTruncateBefore(streamName, SOFT_DELETED);
    return {};
  }

  /** Like the server: the stream can never be written or read again; its events stay in $all until a scavenge. */
  async tombstoneStream(streamName: string) {
    this.tombstoned.add(streamName);
    this.write('$$' + streamName, 0n, '$streamDeleted', {}, {});
    return {};
  }

  /** Events the client has handed over (reads and subscriptions), to show what a read costs. */
  handedOver = 0;

  /**
   * A catch-up subscription like the server's: from after a position, optionally filtered by
   * stream name on the "server" (filtered-out events never reach the client, but count towards
   * checkpoints), a "caughtUp" signal on reaching the end of the log, then live events.
   */
  subscribeToAll(options: {
    fromPosition?: Position | 'start' | 'end';
    filter?: { filterOn: string; regex?: string; checkpointInterval?: number; checkpointReached?: (sub: unknown, position: Position) => void };
  }) {
    let after = options.fromPosition === undefined || options.fromPosition === 'start' ? -1n : options.fromPosition === 'end' ? this.nextPosition : options.fromPosition.commit;
    const filter = options.filter?.regex ? new RegExp(options.filter.regex) : undefined;
    const window = 4 * (options.filter?.checkpointInterval ?? 1);
    let stopped = false;
    let wake: (() => void) | undefined;
    let buffered = 0;
    const notify = () => wake?.();
    this.listeners.add(notify);
    const caughtUp = new Set<() => void>();
    const client = this;
    let skipped = 0;
    const subscription = {
      [Symbol.asyncIterator]: () => iterator,
      unsubscribe: async () => stop(),
      destroy: () => stop(),
      on: (event: string, listener: () => void) => {
        if (event === 'caughtUp') caughtUp.add(listener);
        return subscription;
      },
      get readableLength() {
        return buffered;
      },
    };
    async function* events() {
      let signalled = false;
      while (!stopped) {
        const next = client.log.find((r) => r.position.commit > after);
        if (!next) {
          if (!signalled) {
            signalled = true;
            for (const listener of caughtUp) listener();
          }
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        after = next.position.commit;
        if (next.type.startsWith('$') || (filter && !filter.test(next.streamId))) {
          if (++skipped % window === 0) options.filter?.checkpointReached?.(subscription, next.position);
          continue;
        }
        client.handedOver += 1;
        yield client.resolvedFromAll(next);
      }
    }
    const iterator = events();
    const stop = () => {
      stopped = true;
      client.listeners.delete(notify);
      wake?.();
      void buffered;
    };
    return subscription;
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
  }

  private lastRevision(streamName: string): number {
    const records = this.log.filter((r) => r.streamId === streamName);
    return records.length === 0 ? -1 : Number(records[records.length - 1]!.revision);
  }

  private setTruncateBefore(streamName: string, revision: number): void {
    this.truncateBefore.set(streamName, revision);
    const metastream = `$$${streamName}`;
    this.write(metastream, BigInt(this.lastRevision(metastream) + 1), '$metadata', { $tb: revision }, undefined);
  }

  private write(streamId: string, revision: bigint, type: string, data: unknown, metadata: unknown): Position {
    // Byte offsets with gaps, as in a real transaction log.
    const position = { commit: this.nextPosition, prepare: this.nextPosition };
    this.nextPosition += 137n + BigInt(JSON.stringify(data ?? null).length);
    this.log.push({ streamId, revision, type, data: structuredClone(data), metadata: structuredClone(metadata), position });
    for (const listener of this.listeners) listener();
    return position;
  }

  private recorded(record: FakeRecord) {
    return { ...record, id: randomUUID(), isJson: true, created: new Date(0) };
  }

  private resolvedFromAll(record: FakeRecord) {
    return { event: this.recorded(record), commitPosition: record.position.commit };
  }
}

const onStandIn = () => new EventStoreDbEventStore(new FakeEventStoreDbClient() as unknown as EventStoreDBClient);

eventStoreContract('eventstoredb adapter on an in-memory client stand-in', async () => onStandIn());

describe('EventStoreDB adapter on an in-memory client stand-in', () => {
  const event = (appId: string, n: number) => ({
    type: 'ContentCreated',
    data: { n },
    metadata: { appId, actor: 'user-1', timestamp: '2024-01-01T00:00:00.000Z', schemaVersion: 1 },
  });
  const collect = async <T>(items: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  it('pages through $all without repeating or losing events, whatever the batch size', async () => {
    const store = onStandIn();
    const appId = randomUUID();
    for (let n = 0; n < 7; n++) {
      await store.append(streams.child('content', appId, `c${n}`), [event(appId, n)], -1);
      // Deleting another app writes system events in between, which the pages must step over.
      if (n % 3 === 0) {
        const other = randomUUID();
        await store.append(streams.app(other), [event(other, 100 + n)], 'any');
        await store.deleteApp(other);
      }
    }
    for (const batchSize of [1, 2, 3, 7, 8, 500]) {
      const all = await collect(store.readAll({ batchSize }));
      expect(all.filter((e) => e.metadata.appId === appId).map((e) => e.data['n'])).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect((await collect(store.readApp(appId, { batchSize }))).map((e) => e.data['n'])).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
    await store.close();
  });

  it('tombstones a purged app: hidden from readApp, still in readAll until a scavenge, never written again', async () => {
    const store = onStandIn();
    const appId = randomUUID();
    const kept = randomUUID();
    await store.append(streams.app(appId), [event(appId, 1), event(appId, 2)], -1);
    await store.append(streams.child('content', appId, 'c1'), [event(appId, 3)], -1);
    await store.append(streams.app(kept), [event(kept, 4)], -1);
    await store.deleteApp(appId);
    expect(await collect(store.readApp(appId))).toEqual([]);
    expect((await collect(store.readAll())).length).toBe(4);
    expect(await store.streamVersion(streams.app(appId))).toBe(-1);
    await expect(store.append(streams.app(appId), [event(appId, 5)], 'any')).rejects.toBeInstanceOf(StreamDeletedError);
    const filter = store.purgedEventFilter();
    const flags = await Promise.all((await collect(store.readAll())).map((e) => filter.isPurged(e)));
    expect(flags).toEqual([true, true, true, false]);
    // Purging again (a cleanup retried after a crash) is harmless.
    await store.deleteApp(appId);
    await store.close();
  });

  it('reports the head past trailing system events, and 0 for an empty store', async () => {
    const store = onStandIn();
    expect(await store.headPosition()).toBe(0);
    const appId = randomUUID();
    const written = await store.append(streams.app(appId), [event(appId, 1)], -1);
    await store.deleteApp(appId);
    expect(await store.headPosition()).toBe(written.position);
    await store.close();
  });

  it('stops a subscription whose handler fails and reports the error once', async () => {
    const store = onStandIn();
    const appId = randomUUID();
    await store.append(streams.app(appId), [event(appId, 1), event(appId, 2)], -1);
    const errors: Error[] = [];
    let calls = 0;
    await new Promise<void>((resolve) => {
      store.subscribe(
        0,
        async () => {
          calls += 1;
          throw new Error('handler failed');
        },
        (error) => {
          errors.push(error);
          resolve();
        },
      );
    });
    await store.append(streams.app(appId), [event(appId, 3)], 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(1);
    expect(errors.map((e) => e.message)).toEqual(['handler failed']);
    await store.close();
  });
});

describe('appends under the server\'s size limit', () => {
  const big = (n: number, bytes: number) => ({ type: 'ContentUpdated', data: { n, text: 'x'.repeat(bytes) }, metadata });

  it('chunks a large append so that no chunk passes the limit, each expecting the revision the one before left', async () => {
    const client = new FakeEventStoreDbClient();
    client.maxAppendSize = 50_000;
    const store = new EventStoreDbEventStore(client as unknown as EventStoreDBClient, { maxAppendBytes: 50_000 });
    const stream = streams.child('content', 'a1', 'c1');
    const result = await store.append(stream, Array.from({ length: 40 }, (_, n) => big(n, 4000)), -1);
    expect(result.streamVersion).toBe(39);
    expect(client.appends).toBeGreaterThan(3);
    const read: number[] = [];
    for await (const e of store.readStream(stream)) read.push(e.data['n'] as number);
    expect(read).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(chunkForAppend(stream, Array.from({ length: 40 }, (_, n) => big(n, 4000)), 50_000).every((chunk) => chunk.length <= 11)).toBe(true);
  });

  it('refuses one event over the limit with what to change, and maps the server\'s own refusal', async () => {
    expect(() => chunkForAppend('content-a1--c1', [big(1, 60_000)], 50_000)).toThrow(/about \d+ bytes, more than EventStoreDB accepts in one append \(50000 bytes, EVENTSTORE_MAX_APPEND_BYTES\)/);
    const client = new FakeEventStoreDbClient();
    client.maxAppendSize = 10_000;
    const store = new EventStoreDbEventStore(client as unknown as EventStoreDBClient, { maxAppendBytes: 100_000 });
    const attempt = store.append('content-a1--c2', [big(1, 20_000)], -1);
    await expect(attempt).rejects.toBeInstanceOf(AppendTooLargeError);
    await expect(store.append('content-a1--c2', [big(1, 20_000)], -1)).rejects.toThrow(/larger than its MaxAppendSize of 10000 bytes\. Set EVENTSTORE_MAX_APPEND_BYTES/);
    expect(mapAppendError(new Error('other'), 's', -1).message).toBe('other');
  });
});

describe('per-app reads on EventStoreDB', () => {
  it('hands over only the app\'s own events, however large the store around it', async () => {
    const client = new FakeEventStoreDbClient();
    const store = new EventStoreDbEventStore(client as unknown as EventStoreDBClient);
    const small = randomUUID();
    const noise = randomUUID();
    const write = (appId: string, n: number) => ({ type: 'AppUpdated', data: { n }, metadata: { ...metadata, appId } });
    for (let n = 0; n < 5000; n++) await store.append(streams.child('content', noise, `c${n % 50}`), [write(noise, n)], 'any');
    await store.append(streams.app(small), [write(small, 0)], -1);
    for (let n = 1; n < 50; n++) {
      await store.append(n % 2 ? streams.child('content', small, `x${n}`) : streams.app(small), [write(small, n)], 'any');
      await store.append(streams.child('content', noise, 'late'), [write(noise, n)], 'any');
    }
    for (let n = 0; n < 3000; n++) await store.append(streams.child('content', noise, `d${n % 30}`), [write(noise, n)], 'any');
    client.handedOver = 0;
    const read: number[] = [];
    for await (const event of store.readApp(small)) read.push(event.data['n'] as number);
    expect(read).toEqual(Array.from({ length: 50 }, (_, n) => n));
    // The app's events, plus the few lookups around them (its first event, the head), never the 8,000 others.
    expect(client.handedOver).toBeLessThan(80);
  });

  it('reads a deep history page from the cursor of the page before, not from the app\'s first event', async () => {
    const client = new FakeEventStoreDbClient();
    const store = new EventStoreDbEventStore(client as unknown as EventStoreDBClient);
    const appId = randomUUID();
    const write = (n: number) => ({ type: 'AppUpdated', data: { n }, metadata: { ...metadata, appId } });
    await store.append(streams.app(appId), [write(1)], -1);
    for (let n = 2; n <= 2000; n++) await store.append(streams.app(appId), [write(n)], 'any');
    const handedOverFor = async (number: number) => {
      const previous = (await store.readAppPage(appId, { number: number - 10 }, 10)).at(-1)!;
      client.handedOver = 0;
      const page = await store.readAppPage(appId, { number: previous.number, position: previous.position }, 10);
      return { page, handedOver: client.handedOver };
    };
    const shallow = await handedOverFor(20);
    const deep = await handedOverFor(1900);
    expect(deep.page).toEqual(await store.readAppPage(appId, { number: 1900 }, 10));
    expect(deep.page.map((e) => e.number)).toEqual(Array.from({ length: 10 }, (_, i) => 1901 + i));
    // The page's events and the head lookup, as many for page 191 as for page 3, not the 1,900 before it.
    expect(deep.handedOver).toBe(shallow.handedOver);
    expect(deep.handedOver).toBeLessThan(50);
  });
});
