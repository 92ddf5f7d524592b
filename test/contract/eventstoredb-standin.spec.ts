import { randomUUID } from 'node:crypto';
import { EventStoreDBClient, START, StreamDeletedError, streamNameFilter, UnknownError } from '@eventstore/db-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  EventTooLargeError,
  type NewEvent,
  streams,
  UncertainWriteError,
  WrongExpectedVersionError,
  writesStoredBefore,
} from '../../src/infrastructure/event-store/event-store.port.js';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/eventstoredb-event-store.adapter.js';
import { EventStoreStandin } from '../support/esdb-standin/standin-server.js';
import { appVaultEvent, indexEverything, seedBusyStore, waitForIndex } from '../support/esdb-standin/standin-helpers.js';
import { upkeptEventStore } from '../support/esdb-standin/upkept-store.js';

// The EventStoreDB adapter through the real @eventstore/db-client, over gRPC, against the stand-in
// server (test/support/esdb-standin): what reads cost in records the server scans, the server's
// position rule, the index writer, events other programs wrote, and failures of the connection.

const collect = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};
const event = (appId: string | undefined, n: number, extra: Partial<NewEvent> = {}): NewEvent => ({ ...appVaultEvent('ContentUpdated', { n }, appId), ...extra });
const linksOf = (standin: EventStoreStandin, appId: string) =>
  standin.log.records.filter((r) => r.stream === `appvault-app-${appId}`).map((r) => Buffer.from(r.data).toString('utf8'));

describe('EventStoreDB: whole-app reads cost the app, not the log (records the server scans)', () => {
  let standin: EventStoreStandin;
  let store: EventStoreDbEventStore;
  let appId: string;

  beforeAll(async () => {
    standin = await EventStoreStandin.start();
    // An app created early in a store of 100,000 events, its 50 events spread over the log.
    appId = seedBusyStore(standin, 100_000, 50);
    indexEverything(standin);
    store = new EventStoreDbEventStore(standin.url);
  }, 120_000);
  afterAll(async () => {
    await store.close();
    await standin.close();
  });

  it('backs up a 50-event app (head, count, read) scanning a few hundred records', async () => {
    standin.log.resetStats();
    const head = await store.headPosition();
    const total = await store.countApp(appId, head);
    const events = await collect(store.readApp(appId, { until: head }));
    expect(total).toBe(50);
    expect(events.map((e) => e.data['n'])).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(events[0]!.type).toBe('AppCreated');
    // 50 links and the 50 events they resolve to, the head and a few look-ups: not the 100,000.
    expect(standin.stats.scanned).toBeLessThanOrEqual(300);
    expect(standin.stats.calls['subscribe:all'] ?? 0).toBe(0);
  });

  it('reads a partial backup (two passes), a deep history page and an untilEvent target at the same small cost', async () => {
    standin.log.resetStats();
    const head = await store.headPosition();
    await store.countApp(appId, head);
    await collect(store.readApp(appId, { until: head }));
    await collect(store.readApp(appId, { until: head }));
    expect(standin.stats.scanned).toBeLessThanOrEqual(400);

    standin.log.resetStats();
    const first = await store.readAppPage(appId, { number: 0 }, 5);
    const firstCost = standin.stats.scanned;
    standin.log.resetStats();
    const deep = await store.readAppPage(appId, { number: 40 }, 5);
    expect(first.map((e) => e.number)).toEqual([1, 2, 3, 4, 5]);
    expect(deep.map((e) => [e.number, e.data['n']])).toEqual([41, 42, 43, 44, 45].map((n) => [n, n - 1]));
    // Event n is link n - 1: a page deep in the history costs what the first one does.
    expect(standin.stats.scanned).toBe(firstCost);
    expect(firstCost).toBeLessThanOrEqual(40);

    // A count to a position inside the app's history: a binary search over the links.
    standin.log.resetStats();
    expect(await store.countApp(appId, deep[0]!.position)).toBe(41);
    expect(standin.stats.scanned).toBeLessThanOrEqual(20);
  });

  it('pays for what the index writer has not linked yet, from where it stopped, not from the app\'s birth', async () => {
    for (let n = 0; n < 500; n += 1) standin.seed(`user-late${n}`, [appVaultEvent('UserUpdated', { n })]);
    standin.seed(streams.app(appId), [appVaultEvent('AppUpdated', { n: 50 }, appId)]);
    standin.seed(`content-${appId}--late`, [appVaultEvent('ContentCreated', { n: 51 }, appId)]);
    standin.log.resetStats();
    const events = await collect(store.readApp(appId));
    expect(events.map((e) => e.data['n'])).toEqual(Array.from({ length: 52 }, (_, n) => n));
    expect(await store.readAppPage(appId, { number: 50 }, 10)).toMatchObject([{ number: 51, data: { n: 50 } }, { number: 52, data: { n: 51 } }]);
    expect(await store.countApp(appId, await store.headPosition())).toBe(52);
    // The links, and the ~500 records written since the writer's checkpoint (three times), not the log.
    expect(standin.stats.scanned).toBeLessThanOrEqual(2000);
  });
});

describe('EventStoreDB: reads start only where a record starts', () => {
  let standin: EventStoreStandin;
  let client: EventStoreDBClient;
  beforeAll(async () => {
    standin = await EventStoreStandin.start();
    client = EventStoreDBClient.connectionString(standin.url);
  });
  afterAll(async () => {
    await client.dispose();
    await standin.close();
  });

  it('refuses a subscription or a read of $all from inside a record, as a 24.x server does', async () => {
    const appId = randomUUID();
    const first = standin.seed(streams.app(appId), [appVaultEvent('AppCreated', {}, appId)]);
    const inside = { commit: BigInt(first.position - 1), prepare: BigInt(first.position - 1) };
    const subscription = client.subscribeToAll({ fromPosition: inside, filter: streamNameFilter({ prefixes: ['app-'] }) });
    await expect(collect(subscription)).rejects.toThrow(/Trying to read from an invalid position/);
    await expect(collect(client.readAll({ fromPosition: inside, maxCount: 10 }))).rejects.toBeInstanceOf(UnknownError);
    // From the record's own start, or a checkpoint (P, 0) before it, both are fine.
    expect((await collect(client.readAll({ fromPosition: { commit: BigInt(first.position), prepare: 0n }, maxCount: 10 }))).map((e) => e.event?.streamId)).toEqual([
      streams.app(appId),
    ]);
  });

  it('reads an app nobody has indexed yet from its first event, at a position the server returned', async () => {
    const store = new EventStoreDbEventStore(standin.url);
    try {
      for (let n = 0; n < 300; n += 1) standin.seed(`user-x${n}`, [appVaultEvent('UserUpdated', { n })]);
      const appId = randomUUID();
      await store.append(streams.app(appId), [event(appId, 1)], -1);
      for (let n = 0; n < 300; n += 1) standin.seed(`user-y${n}`, [appVaultEvent('UserUpdated', { n })]);
      await store.append(streams.child('content', appId, 'c1'), [event(appId, 2)], -1);
      standin.log.resetStats();
      expect((await collect(store.readApp(appId))).map((e) => e.data['n'])).toEqual([1, 2]);
      expect(await store.countApp(appId, await store.headPosition())).toBe(2);
      // From the app's first event on (about 300 records each), never the 300 before it.
      expect(standin.stats.scanned).toBeLessThanOrEqual(700);
    } finally {
      await store.close();
    }
  });
});

describe('EventStoreDB: the per-app index writer', () => {
  let standin: EventStoreStandin;
  beforeAll(async () => {
    standin = await EventStoreStandin.start();
  });
  afterAll(async () => {
    await standin.close();
  });

  it('links every app event once, in $all order, from its checkpoint after a restart, also with two writers at once', async () => {
    const apps = [randomUUID(), randomUUID(), randomUUID()];
    const write = async (store: EventStoreDbEventStore, from: number, to: number) => {
      for (let n = from; n < to; n += 1) {
        const appId = apps[n % 3]!;
        await store.append(n < 3 ? streams.app(appId) : streams.child('content', appId, `c${n % 5}`), [event(appId, n)], 'any');
        if (n % 7 === 0) await store.append(streams.user(`u${n}`), [event(undefined, n)], 'any');
      }
    };
    const first = upkeptEventStore(standin.url);
    await write(first, 0, 300);
    await waitForIndex(standin, await first.headPosition());
    await first.close();
    // Written while no writer runs, then two writers at once (two processes that both believe they hold the lease).
    const plain = new EventStoreDbEventStore(standin.url);
    await write(plain, 300, 600);
    const [a, b] = [upkeptEventStore(standin.url), upkeptEventStore(standin.url)];
    await write(plain, 600, 900);
    await waitForIndex(standin, await plain.headPosition());
    for (const appId of apps) {
      const expected = standin.log.records.filter((r) => streams.appOf(r.stream) === appId && !r.type.startsWith('$')).map((r) => `${r.revision}@${r.stream}`);
      expect(expected).toHaveLength(300);
      expect(linksOf(standin, appId)).toEqual(expected);
      expect((await plain.readAppPage(appId, { number: 0 }, 1000)).map((e) => e.number)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    }
    await Promise.all([a.close(), b.close(), plain.close()]);
  });

  it('purges an app: its streams and its index tombstoned, nothing shown or linked again', async () => {
    const store = upkeptEventStore(standin.url);
    try {
      const gone = randomUUID();
      const kept = randomUUID();
      await store.append(streams.app(gone), [event(gone, 1), event(gone, 2)], -1);
      await store.append(streams.child('content', gone, 'c1'), [event(gone, 3)], -1);
      await store.append(streams.app(kept), [event(kept, 4)], -1);
      await waitForIndex(standin, await store.headPosition());
      // One more event the writer has not linked when the purge runs.
      await store.append(streams.child('asset', gone, 'a1'), [event(gone, 5)], -1);
      await store.deleteApp(gone);
      expect(await collect(store.readApp(gone))).toEqual([]);
      expect(await store.countApp(gone, await store.headPosition())).toBe(0);
      expect(await store.readAppPage(gone, { number: 0 }, 10)).toEqual([]);
      for (const stream of [streams.app(gone), streams.child('content', gone, 'c1'), streams.child('asset', gone, 'a1'), `appvault-app-${gone}`]) {
        expect(standin.log.isTombstoned(stream)).toBe(true);
      }
      await expect(store.append(streams.app(gone), [event(gone, 6)], 'any')).rejects.toBeInstanceOf(StreamDeletedError);
      // Still in $all until a scavenge, as on a real server; the kept app is whole.
      expect((await collect(store.readAll())).filter((e) => e.metadata.appId === gone)).toHaveLength(4);
      expect((await collect(store.readApp(kept))).map((e) => e.data['n'])).toEqual([4]);
      await store.deleteApp(gone);
    } finally {
      await store.close();
    }
  });
});

describe('EventStoreDB: a store shared with other programs', () => {
  it('skips events that are not AppVault\'s in every read and in the subscription, counting them', async () => {
    const standin = await EventStoreStandin.start();
    const store = new EventStoreDbEventStore(standin.url);
    try {
      const appId = randomUUID();
      await store.append(streams.app(appId), [event(appId, 1)], -1);
      standin.seed('orders-17', [{ type: 'OrderPlaced', data: { total: 3 } }]);
      standin.seed(streams.app(appId), [{ type: 'Binary', data: Buffer.from([1, 2, 3]) }]);
      standin.seed(streams.child('content', appId, 'x'), [{ type: 'NoMetadata', data: { a: 1 } }]);
      const foreignHead = standin.seed('orders-18', [{ type: 'OrderPlaced', data: { total: 4 }, metadata: { $correlationId: 'x' } }]);
      expect((await collect(store.readAll())).map((e) => e.data['n'])).toEqual([1]);
      expect((await collect(store.readApp(appId))).map((e) => e.data['n'])).toEqual([1]);
      expect((await collect(store.readStream(streams.app(appId)))).map((e) => e.data['n'])).toEqual([1]);
      expect(await store.headPosition()).toBe(foreignHead.position);
      const throughs: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const subscription = store.subscribe(
          0,
          async (events, through) => {
            throughs.push(through);
            if (through >= foreignHead.position) void subscription.close().then(resolve);
            expect(events.every((e) => e.metadata.appId === appId)).toBe(true);
          },
          reject,
        );
      });
      // The subscription's position moves past the foreign events, so nobody waits for them forever.
      expect(throughs.at(-1)).toBe(foreignHead.position);
      expect(store.foreignEvents).toBeGreaterThanOrEqual(4);
    } finally {
      await store.close();
      await standin.close();
    }
  });
});

describe('EventStoreDB: the head, paging through $all, a failing subscription handler', () => {
  let standin: EventStoreStandin;
  let store: EventStoreDbEventStore;
  beforeAll(async () => {
    standin = await EventStoreStandin.start();
    store = new EventStoreDbEventStore(standin.url);
  });
  afterAll(async () => {
    await store.close();
    await standin.close();
  });

  it('reports the head past trailing bookkeeping records, and 0 for a store without events', async () => {
    const empty = await EventStoreStandin.start();
    const onEmpty = new EventStoreDbEventStore(empty.url);
    expect(await onEmpty.headPosition()).toBe(0);
    await onEmpty.close();
    await empty.close();
    const appId = randomUUID();
    const written = await store.append(streams.app(appId), [event(appId, 1)], -1);
    for (let n = 0; n < 30; n += 1) standin.seed(`appvault-app-${randomUUID()}`, [{ type: '$>', data: Buffer.from('0@x') }]);
    await store.deleteStream(`user-${randomUUID()}`);
    expect(await store.headPosition()).toBe(written.position);
  });

  it('pages through $all without repeating or losing events, whatever the batch size', async () => {
    const appId = randomUUID();
    for (let n = 0; n < 7; n += 1) {
      await store.append(streams.child('content', appId, `c${n}`), [event(appId, n)], -1);
      // Deleting another app writes tombstones in between, which the pages must step over.
      if (n % 3 === 0) {
        const other = randomUUID();
        await store.append(streams.app(other), [event(other, 100 + n)], 'any');
        await store.deleteApp(other);
      }
    }
    for (const batchSize of [1, 2, 3, 7, 8, 500]) {
      const all = await collect(store.readAll({ batchSize }));
      expect(all.filter((e) => e.metadata.appId === appId).map((e) => e.data['n'])).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
  });

  it('stops a subscription whose handler fails and reports the error once', async () => {
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
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    expect(errors.map((e) => e.message)).toEqual(['handler failed']);
  });
});

describe("EventStoreDB: appends and the server's size limit", () => {
  const big = (n: number, bytes: number): NewEvent => ({ ...appVaultEvent('ContentUpdated', { n, text: 'x'.repeat(bytes) }, 'a1') });

  it('chunks a large append under the limit, each chunk expecting the revision the one before left', async () => {
    const standin = await EventStoreStandin.start({ maxAppendSize: 50_000 });
    const store = new EventStoreDbEventStore(standin.url, { maxAppendBytes: 50_000 });
    try {
      const stream = streams.child('content', 'a1', 'c1');
      const result = await store.append(stream, Array.from({ length: 40 }, (_, n) => big(n, 4000)), -1);
      expect(result.streamVersion).toBe(39);
      expect(standin.stats.calls['append']).toBeGreaterThan(3);
      expect((await collect(store.readStream(stream))).map((e) => e.data['n'])).toEqual(Array.from({ length: 40 }, (_, n) => n));
    } finally {
      await store.close();
      await standin.close();
    }
  });

  it('refuses one event over the limit before sending it (typed), and says what to change when the server refuses', async () => {
    const standin = await EventStoreStandin.start({ maxAppendSize: 10_000 });
    const store = new EventStoreDbEventStore(standin.url, { maxAppendBytes: 100_000 });
    const strict = new EventStoreDbEventStore(standin.url, { maxAppendBytes: 10_000 });
    try {
      await expect(strict.append('content-a1--c2', [big(1, 20_000)], -1)).rejects.toBeInstanceOf(EventTooLargeError);
      // Configured above what the server takes: the server's refusal, with the setting to change.
      await expect(store.append('content-a1--c2', [big(1, 20_000)], -1)).rejects.toThrow(/larger than its MaxAppendSize of 10000 bytes\. Set EVENTSTORE_MAX_APPEND_BYTES/);
      expect(await store.streamVersion('content-a1--c2')).toBe(-1);
    } finally {
      await Promise.all([store.close(), strict.close()]);
      await standin.close();
    }
  });
});

describe('EventStoreDB: failures of the server and the connection', () => {
  let standin: EventStoreStandin;
  beforeAll(async () => {
    standin = await EventStoreStandin.start();
  });
  afterEach(() => standin.clearFaults());
  afterAll(async () => {
    await standin.close();
  });

  for (const batchAppend of [true, false]) {
    it(`reports an append it could not confirm as uncertain, and a resend with the same ids is stored once (${batchAppend ? 'BatchAppend' : 'Append'})`, async () => {
      const server = batchAppend ? standin : await EventStoreStandin.start({ batchAppend: false });
      const store = new EventStoreDbEventStore(server.url);
      try {
        const appId = randomUUID();
        const stream = streams.app(appId);
        const ids = [randomUUID(), randomUUID()];
        const events = [event(appId, 1, { id: ids[0] }), event(appId, 2, { id: ids[1] })];
        for (const kind of ['deadline', 'not-leader', 'timeout'] as const) {
          server.inject({ on: 'append', stream, kind, afterWrite: kind !== 'not-leader' });
          await expect(store.append(stream, events, -1)).rejects.toBeInstanceOf(UncertainWriteError);
        }
        // Whether or not it landed, the same events at the same expected version are stored once.
        expect((await store.append(stream, events, -1)).streamVersion).toBe(1);
        expect((await collect(store.readStream(stream))).map((e) => e.data['n'])).toEqual([1, 2]);
        await expect(store.append(stream, [event(appId, 3)], -1)).rejects.toBeInstanceOf(WrongExpectedVersionError);
      } finally {
        await store.close();
        if (server !== standin) await server.close();
      }
    });
  }

  it('says how many writes of an appendMany were stored before the one that failed', async () => {
    const store = new EventStoreDbEventStore(standin.url);
    try {
      const appId = randomUUID();
      const writes = [0, 1, 2, 3].map((i) => ({ stream: streams.child('content', appId, `c${i}`), events: [event(appId, i)], expectedVersion: -1 }));
      standin.inject({ on: 'append', stream: writes[2]!.stream, kind: 'unavailable' });
      const failure = await store.appendMany(writes).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(UncertainWriteError);
      expect(writesStoredBefore(failure)).toBe(2);
      standin.seed(writes[3]!.stream, [appVaultEvent('ContentUpdated', { by: 'someone else' }, appId)]);
      const conflict = await store.appendMany(writes).catch((error: unknown) => error);
      // Sent again without ids of its own, write 0 is a new event at a taken version: refused first.
      expect(conflict).toBeInstanceOf(WrongExpectedVersionError);
      expect(writesStoredBefore(conflict)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('fails a read whose connection drops part-way, and reads again once it is back', async () => {
    const store = new EventStoreDbEventStore(standin.url);
    try {
      const appId = randomUUID();
      await store.append(streams.app(appId), Array.from({ length: 20 }, (_, n) => event(appId, n)), -1);
      standin.inject({ on: 'read', stream: streams.app(appId), kind: 'drop', afterEvents: 5 });
      await expect(collect(store.readStream(streams.app(appId)))).rejects.toThrow();
      expect(await collect(store.readStream(streams.app(appId)))).toHaveLength(20);
      standin.inject({ on: 'read', stream: '$all', kind: 'unavailable', afterEvents: 3 });
      await expect(collect(store.readAll())).rejects.toThrow(/Server Is Not Ready/);
      expect((await collect(store.readAll())).filter((e) => e.metadata.appId === appId)).toHaveLength(20);
    } finally {
      await store.close();
    }
  });

  it('reports a subscription whose connection drops through onError', async () => {
    const store = new EventStoreDbEventStore(standin.url);
    try {
      const appId = randomUUID();
      await store.append(streams.app(appId), [event(appId, 1)], -1);
      standin.inject({ on: 'subscribe', kind: 'drop', afterEvents: 1 });
      await store.append(streams.app(appId), [event(appId, 2)], 0);
      const error = await new Promise<Error>((resolve) => {
        store.subscribe(0, async () => undefined, resolve);
      });
      expect(error).toBeInstanceOf(Error);
    } finally {
      await store.close();
    }
  });
});

describe('EventStoreDB: the stand-in follows the client\'s subscription protocol', () => {
  it('sends checkpoints every 32 × the interval records considered and one when it has caught up', async () => {
    const standin = await EventStoreStandin.start();
    const client = EventStoreDBClient.connectionString(standin.url);
    try {
      for (let n = 0; n < 200; n += 1) standin.seed(`user-${n}`, [appVaultEvent('UserUpdated', { n })]);
      const checkpoints: bigint[] = [];
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: streamNameFilter({ prefixes: ['nothing-'], checkpointInterval: 2, checkpointReached: (_s, position) => void checkpoints.push(position.commit) }),
      });
      await new Promise<void>((resolve) => subscription.on('caughtUp', () => resolve()));
      await subscription.unsubscribe();
      // 201 records (the server's epoch event and 200): a checkpoint after 64, 128 and 192 considered, and one at the end.
      expect(checkpoints).toHaveLength(4);
      expect([...checkpoints].sort((a, b) => (a < b ? -1 : 1))).toEqual(checkpoints);
    } finally {
      await client.dispose();
      await standin.close();
    }
  });
});
