import {
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { nameBasedEventId } from '../../src/infrastructure/event-store/event-ids.js';
import { EventTooLargeError, isAppVaultStream, streams, UncertainWriteError, WrongExpectedVersionError } from '../../src/infrastructure/event-store/event-store.port.js';
import {
  appStreamFilter,
  appStreamRegex,
  chunkForAppend,
  comparePositions,
  isBookkeeping,
  mapAppendError,
  positionOf,
  type ResolvedEventLike,
  toAllPosition,
  toAppendResult,
  toEventData,
  toExpectedRevision,
  toSafePosition,
  toStoredEvent,
  whyForeign,
} from '../../src/infrastructure/event-store/eventstoredb-mapping.js';

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

  it('turns a deadline, a lost connection or a leader change into an uncertain write', () => {
    const grpc = (code: number, metadata = new Metadata()) => Object.assign(new Error('x'), { code, details: 'x', metadata });
    for (const error of [new DeadlineExceededError(grpc(4)), new UnavailableError(grpc(14))]) {
      const mapped = mapAppendError(error, 'app-a1', 2);
      expect(mapped).toBeInstanceOf(UncertainWriteError);
      expect(mapped.message).toMatch(/did not confirm an append to app-a1 .*it may or may not be stored/);
    }
    const leader = new Metadata();
    leader.set('leader-endpoint-host', 'node2');
    leader.set('leader-endpoint-port', '2113');
    expect(mapAppendError(new NotLeaderError(grpc(5, leader)), 'app-a1', 2)).toBeInstanceOf(UncertainWriteError);
    // A stream reset under the call (a dropped connection) arrives as INTERNAL without a server exception.
    expect(mapAppendError(new UnknownError(grpc(13)), 'app-a1', 2)).toBeInstanceOf(UncertainWriteError);
    // Any other unknown status is the server's answer, not a lost one.
    expect(mapAppendError(new UnknownError(grpc(2)), 'app-a1', 2)).not.toBeInstanceOf(UncertainWriteError);
  });

  it("says what to change when the server's MaxAppendSize refuses a chunk", () => {
    const mapped = mapAppendError(MaxAppendSizeExceededError.fromMaxAppendSize(10_000), 'content-a1--c2', -1, 3);
    expect(mapped.message).toMatch(/refused an append of 3 event\(s\) to content-a1--c2: larger than its MaxAppendSize of 10000 bytes\. Set EVENTSTORE_MAX_APPEND_BYTES/);
  });

  it('passes other errors through and wraps non-errors', () => {
    const other = new Error('boom');
    expect(mapAppendError(other, 'app-a1', 'any')).toBe(other);
    expect(mapAppendError('bad', 'app-a1', 'any')).toEqual(new Error('bad'));
  });
});

describe('EventStoreDB mapping: positions', () => {
  it('orders positions by commit, then prepare: a checkpoint (P, 0) comes before the event at P', () => {
    expect(comparePositions({ commit: 10n, prepare: 0n }, { commit: 10n, prepare: 10n })).toBeLessThan(0);
    expect(comparePositions({ commit: 11n, prepare: 0n }, { commit: 10n, prepare: 10n })).toBeGreaterThan(0);
    expect(comparePositions(toAllPosition(7), { commit: 7n, prepare: 7n })).toBe(0);
  });

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

  it("recognises the server's records and AppVault's bookkeeping by type or stream", () => {
    expect(isBookkeeping(resolved())).toBe(false);
    expect(isBookkeeping(resolved({ type: '$metadata' }))).toBe(true);
    expect(isBookkeeping(resolved({ type: '$>' }))).toBe(true);
    expect(isBookkeeping(resolved({ streamId: '$$app-a1' }))).toBe(true);
    expect(isBookkeeping(resolved({ streamId: 'appvault-app-a1' }))).toBe(true);
    expect(isBookkeeping(resolved({ streamId: 'appvault-index-checkpoint' }))).toBe(true);
    expect(isBookkeeping({})).toBe(true);
  });

  it('tells events another program wrote to the store from AppVault\'s, with the reason', () => {
    expect(whyForeign(resolved().event!)).toBeUndefined();
    expect(whyForeign(resolved({ streamId: 'orders-17' }).event!)).toMatch(/not named as AppVault names streams/);
    expect(whyForeign(resolved({ isJson: false, data: new Uint8Array([1]) }).event!)).toMatch(/not a JSON object/);
    expect(whyForeign(resolved({ data: 'text' }).event!)).toMatch(/not a JSON object/);
    expect(whyForeign(resolved({ metadata: { $correlationId: 'x' } }).event!)).toMatch(/no AppVault metadata/);
    expect(whyForeign(resolved({ metadata: undefined }).event!)).toMatch(/no AppVault metadata/);
    expect(isAppVaultStream('system-purges')).toBe(true);
    expect(isAppVaultStream('user-u1')).toBe(true);
    expect(isAppVaultStream('apps-1')).toBe(false);
    expect(isAppVaultStream('app-')).toBe(false);
  });

  it('writes events as JSON with the metadata object, under the id given or a random one', () => {
    const data = toEventData({ type: 'AppCreated', data: { n: 1 }, metadata });
    expect(data).toMatchObject({ contentType: 'application/json', type: 'AppCreated', data: { n: 1 }, metadata });
    expect(data.id).toMatch(/^[0-9a-f-]{36}$/);
    const id = nameBasedEventId('rollback-1', 'content-a1--c1', 4, 0);
    expect(toEventData({ type: 'AppCreated', data: { n: 1 }, metadata, id }).id).toBe(id);
  });

  it('names event ids after their parts: the same parts, the same UUID (version 5)', () => {
    const id = nameBasedEventId('rollback-1', 'content-a1--c1', 4, 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(nameBasedEventId('rollback-1', 'content-a1--c1', 4, 0)).toBe(id);
    expect(nameBasedEventId('rollback-1', 'content-a1--c1', 4, 1)).not.toBe(id);
    expect(nameBasedEventId('rollback-1', 'content-a1--c14', 0)).not.toBe(nameBasedEventId('rollback-1', 'content-a1--c1', 40));
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


describe('EventStoreDB mapping: appends under the server\'s size limit', () => {
  const big = (n: number, bytes: number) => ({ type: 'ContentUpdated', data: { n, text: 'x'.repeat(bytes) }, metadata });

  it('chunks a large append so that no chunk passes 90% of the limit, keeping the order', () => {
    const events = Array.from({ length: 40 }, (_, n) => big(n, 4000));
    const chunks = chunkForAppend('content-a1--c1', events, 50_000);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.flat().map((e) => e.data.n)).toEqual(events.map((e) => e.data.n));
    for (const chunk of chunks) expect(chunk.reduce((n, e) => n + JSON.stringify(e.data).length + JSON.stringify(e.metadata).length, 0)).toBeLessThanOrEqual(45_000);
  });

  it('refuses one event over the limit with a typed error that says what to change', () => {
    expect(() => chunkForAppend('content-a1--c1', [big(1, 60_000)], 50_000)).toThrow(EventTooLargeError);
    expect(() => chunkForAppend('content-a1--c1', [big(1, 60_000)], 50_000)).toThrow(/about \d+ bytes, more than EventStoreDB accepts in one append \(45000 of its 50000 bytes, EVENTSTORE_MAX_APPEND_BYTES\); make the change smaller/);
  });
});
