import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type EventStore,
  InvalidCursorError,
  type NewEvent,
  type StoredEvent,
  streams,
  WrongExpectedVersionError,
} from '../../src/infrastructure/event-store/event-store.port.js';

/** The behaviour every EventStore adapter must show. Called once per adapter. */
export function eventStoreContract(name: string, create: () => Promise<EventStore>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    beforeEach(async () => {
      store = await create();
    });
    afterEach(async () => {
      await store.close();
    });

    const event = (appId: string | undefined, type: string, n: number): NewEvent => ({
      type,
      data: { n, text: `value ${n}`, nested: { list: [n, n + 1] } },
      metadata: { ...(appId ? { appId } : {}), actor: 'user-1', timestamp: new Date(1_700_000_000_000 + n).toISOString(), schemaVersion: 1 },
    });
    const collect = async (it: AsyncIterable<StoredEvent>) => {
      const out: StoredEvent[] = [];
      for await (const e of it) out.push(e);
      return out;
    };

    it('appends to a new stream with expected version -1 and reads it back in order', async () => {
      const appId = randomUUID();
      const stream = streams.app(appId);
      const result = await store.append(stream, [event(appId, 'AppCreated', 1), event(appId, 'AppUpdated', 2)], -1);
      expect(result.streamVersion).toBe(1);
      const read = await collect(store.readStream(stream));
      expect(read.map((e) => e.type)).toEqual(['AppCreated', 'AppUpdated']);
      expect(read.map((e) => e.streamVersion)).toEqual([0, 1]);
      expect(read[1]!.position).toBe(result.position);
      expect(read[0]!.position).toBeLessThan(read[1]!.position);
      expect(read[0]!.data).toEqual({ n: 1, text: 'value 1', nested: { list: [1, 2] } });
      expect(read[0]!.metadata).toEqual({ appId, actor: 'user-1', timestamp: new Date(1_700_000_000_001).toISOString(), schemaVersion: 1 });
      expect(await store.streamVersion(stream)).toBe(1);
      expect(await store.streamVersion(streams.app(randomUUID()))).toBe(-1);
    });

    it('rejects an append with a stale expected version with a typed error, writing nothing', async () => {
      const appId = randomUUID();
      const stream = streams.app(appId);
      await store.append(stream, [event(appId, 'AppCreated', 1)], -1);
      const attempt = store.append(stream, [event(appId, 'AppUpdated', 2)], -1);
      await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(store.append(stream, [event(appId, 'AppUpdated', 2)], 5)).rejects.toMatchObject({ stream, actual: 0 });
      expect((await collect(store.readStream(stream))).length).toBe(1);
      await store.append(stream, [event(appId, 'AppUpdated', 3)], 0);
      await store.append(stream, [event(appId, 'AppUpdated', 4)], 'any');
      expect(await store.streamVersion(stream)).toBe(2);
    });

    it('appends to several streams in order, and refuses a stale expected version with the typed error', async () => {
      const appId = randomUUID();
      const app = streams.app(appId);
      const content = streams.child('content', appId, 'c1');
      const result = await store.appendMany([
        { stream: app, events: [event(appId, 'AppCreated', 1)], expectedVersion: -1 },
        { stream: content, events: [event(appId, 'ContentCreated', 2), event(appId, 'ContentUpdated', 3)], expectedVersion: -1 },
        { stream: app, events: [event(appId, 'AppUpdated', 4)], expectedVersion: 0 },
      ]);
      const read = await collect(store.readApp(appId));
      expect(read.map((e) => e.data['n'])).toEqual([1, 2, 3, 4]);
      expect(read.map((e) => e.streamVersion)).toEqual([0, 0, 1, 1]);
      expect(result.position).toBe(read[3]!.position);
      await expect(store.appendMany([{ stream: content, events: [event(appId, 'ContentUpdated', 5)], expectedVersion: 0 }])).rejects.toBeInstanceOf(
        WrongExpectedVersionError,
      );
      expect(await store.streamVersion(content)).toBe(1);
    });

    it('writes a large appendMany (thousands of streams, as a rollback does), numbered on from the app; on SQLite all or nothing', async () => {
      const writes = (appId: string, last: number) =>
        Array.from({ length: 2500 }, (_, i) => ({ stream: streams.child('content', appId, `c${i}`), events: [event(appId, 'ContentUpdated', i)], expectedVersion: i === 2499 ? last : -1 }));
      // The last stream's expected version is wrong: the typed error; on SQLite nothing of the 2,500 is written.
      const refused = randomUUID();
      await store.append(streams.app(refused), [event(refused, 'AppCreated', 0)], -1);
      await expect(store.appendMany(writes(refused, 7))).rejects.toBeInstanceOf(WrongExpectedVersionError);
      if (store.kind === 'sqlite') {
        expect(await store.streamVersion(streams.child('content', refused, 'c0'))).toBe(-1);
        expect(await store.countApp(refused, await store.headPosition())).toBe(1);
      }
      // Meanwhile and after, small appends go on and interleave in order.
      const appId = randomUUID();
      await store.append(streams.app(appId), [event(appId, 'AppCreated', 0)], -1);
      const [written] = await Promise.all([store.appendMany(writes(appId, -1)), store.append(streams.app(appId), [event(appId, 'AppUpdated', 1)], 0)]);
      const page = await store.readAppPage(appId, { number: 0 }, 5000);
      expect(page.map((e) => e.number)).toEqual(Array.from({ length: 2502 }, (_, i) => i + 1));
      expect(page.at(-1)!.position).toBeGreaterThanOrEqual(written.position);
      expect(await store.streamVersion(streams.child('content', appId, 'c2499'))).toBe(0);
      expect(await store.headPosition()).toBeGreaterThanOrEqual(written.position);
    });

    it('reads one app in global order across its streams, between two positions', async () => {
      const appA = randomUUID();
      const appB = randomUUID();
      const positions: number[] = [];
      positions.push((await store.append(streams.app(appA), [event(appA, 'AppCreated', 1)], -1)).position);
      await store.append(streams.app(appB), [event(appB, 'AppCreated', 2)], -1);
      positions.push((await store.append(streams.child('schema', appA, 's1'), [event(appA, 'SchemaCreated', 3)], -1)).position);
      await store.append(streams.user('u1' + appB), [event(undefined, 'UserCreated', 4)], -1);
      positions.push((await store.append(streams.child('content', appA, 'c1'), [event(appA, 'ContentCreated', 5)], -1)).position);
      positions.push((await store.append(streams.app(appA), [event(appA, 'AppUpdated', 6)], 0)).position);

      const all = await collect(store.readApp(appA));
      expect(all.map((e) => e.data['n'])).toEqual([1, 3, 5, 6]);
      expect(all.map((e) => e.position)).toEqual(positions);
      expect(all.map((e) => e.stream)).toEqual([
        streams.app(appA),
        streams.child('schema', appA, 's1'),
        streams.child('content', appA, 'c1'),
        streams.app(appA),
      ]);
      const middle = await collect(store.readApp(appA, { after: positions[0], until: positions[2] }));
      expect(middle.map((e) => e.data['n'])).toEqual([3, 5]);
      const small = await collect(store.readApp(appA, { batchSize: 1 }));
      expect(small.map((e) => e.data['n'])).toEqual([1, 3, 5, 6]);
    });

    it('reads everything after a checkpoint and reports the head position', async () => {
      const appId = randomUUID();
      const before = await store.headPosition();
      const first = await store.append(streams.app(appId), [event(appId, 'AppCreated', 1)], -1);
      const second = await store.append(streams.app(appId), [event(appId, 'AppUpdated', 2)], 0);
      expect(await store.headPosition()).toBe(second.position);
      expect(first.position).toBeGreaterThan(before);
      const after = (await collect(store.readAll({ after: first.position }))).filter((e) => e.metadata.appId === appId);
      expect(after.map((e) => e.type)).toEqual(['AppUpdated']);
      const fromBefore = (await collect(store.readAll({ after: before, batchSize: 1 }))).filter((e) => e.metadata.appId === appId);
      expect(fromBefore.map((e) => e.type)).toEqual(['AppCreated', 'AppUpdated']);
    });

    it('follows new events after a position, in order, in batches that never overlap', async () => {
      const appId = randomUUID();
      const start = await store.headPosition();
      await store.append(streams.app(appId), [event(appId, 'AppCreated', 1)], -1);
      const seen: number[] = [];
      let inFlight = 0;
      let overlap = false;
      const done = new Promise<void>((resolve, reject) => {
        const sub = store.subscribe(
          start,
          async (batch) => {
            inFlight += 1;
            if (inFlight > 1) overlap = true;
            await new Promise((r) => setTimeout(r, 5));
            for (const e of batch) if (e.metadata.appId === appId) seen.push(e.data['n'] as number);
            inFlight -= 1;
            if (seen.length === 3) void sub.close().then(resolve);
          },
          reject,
        );
      });
      await store.append(streams.app(appId), [event(appId, 'AppUpdated', 2)], 0);
      await store.append(streams.app(appId), [event(appId, 'AppUpdated', 3)], 1);
      await done;
      expect(seen).toEqual([1, 2, 3]);
      expect(overlap).toBe(false);
    });

    it('numbers each app\'s events from 1 and pages its history by number, at any depth', async () => {
      const appA = randomUUID();
      const appB = randomUUID();
      await store.append(streams.app(appA), [event(appA, 'AppCreated', 1)], -1);
      await store.append(streams.app(appB), [event(appB, 'AppCreated', 2)], -1);
      await store.appendMany([
        { stream: streams.child('content', appA, 'c1'), events: [event(appA, 'ContentCreated', 3), event(appA, 'ContentUpdated', 4)], expectedVersion: -1 },
        { stream: streams.app(appB), events: [event(appB, 'AppUpdated', 5)], expectedVersion: 0 },
      ]);
      await store.append(streams.user(`u-${appA}`), [event(undefined, 'UserCreated', 6)], -1);
      for (let n = 7; n < 57; n++) await store.append(streams.app(appA), [event(appA, 'AppUpdated', n)], n - 7);
      const first = await store.readAppPage(appA, { number: 0 }, 3);
      expect(first.map((e) => [e.number, e.data['n']])).toEqual([
        [1, 1],
        [2, 3],
        [3, 4],
      ]);
      const last = await store.readAppPage(appA, { number: 50 }, 10);
      expect(last.map((e) => [e.number, e.data['n']])).toEqual([
        [51, 54],
        [52, 55],
        [53, 56],
      ]);
      expect(last[2]!.stream).toBe(streams.app(appA));
      expect((await store.readAppPage(appB, { number: 0 }, 10)).map((e) => [e.number, e.data['n']])).toEqual([
        [1, 2],
        [2, 5],
      ]);
      expect(await store.readAppPage(appA, { number: 53 }, 10)).toEqual([]);
      expect(await store.readAppPage(randomUUID(), { number: 0 }, 10)).toEqual([]);
      // Paging on from a page's last event by its position gives the same pages as by number.
      let cursor = { number: 0, position: 0 };
      const paged: number[] = [];
      for (;;) {
        const page = await store.readAppPage(appA, cursor, 7);
        if (page.length === 0) break;
        paged.push(...page.map((e) => e.number));
        cursor = { number: page.at(-1)!.number, position: page.at(-1)!.position };
      }
      expect(paged).toEqual(Array.from({ length: 53 }, (_, i) => i + 1));
      // A cursor that names no event of the app is refused, whatever store reads from it.
      const [own] = await store.readAppPage(appA, { number: 4 }, 1);
      const [other] = await store.readAppPage(appB, { number: 1 }, 1);
      for (const bogus of [
        { number: own!.number, position: other!.position },
        { number: own!.number, position: own!.position + 1 },
        { number: 1, position: (await store.headPosition()) + 1000 },
      ]) {
        await expect(store.readAppPage(appA, bogus, 5), JSON.stringify(bogus)).rejects.toBeInstanceOf(InvalidCursorError);
      }
    });

    it('counts the events after a position, up to a limit', async () => {
      const head = await store.headPosition();
      const appId = randomUUID();
      await store.append(streams.app(appId), [event(appId, 'AppCreated', 1)], -1);
      for (let n = 2; n <= 5; n++) await store.append(streams.app(appId), [event(appId, 'AppUpdated', n)], n - 2);
      expect(await store.countAfter(head, 100)).toBe(5);
      expect(await store.countAfter(head, 3)).toBe(3);
      expect(await store.countAfter(await store.headPosition(), 100)).toBe(0);
    });

    it("counts an app's events up to a position, whatever other apps wrote in between", async () => {
      const appId = randomUUID();
      const otherId = randomUUID();
      expect(await store.countApp(appId, await store.headPosition())).toBe(0);
      await store.append(streams.app(appId), [event(appId, 'AppCreated', 1)], -1);
      await store.append(streams.app(otherId), [event(otherId, 'AppCreated', 1)], -1);
      await store.append(streams.app(appId), [event(appId, 'AppUpdated', 2)], 0);
      const middle = await store.headPosition();
      await store.append(streams.app(otherId), [event(otherId, 'AppUpdated', 2)], 0);
      await store.append(streams.app(appId), [event(appId, 'AppUpdated', 3), event(appId, 'AppUpdated', 4)], 1);
      expect(await store.countApp(appId, middle)).toBe(2);
      expect(await store.countApp(appId, await store.headPosition())).toBe(4);
      expect(await store.countApp(otherId, await store.headPosition())).toBe(2);
    });

    it('accepts concurrent appends, failing only the one whose expected version is stale', async () => {
      const appId = randomUUID();
      const app = streams.app(appId);
      await store.append(app, [event(appId, 'AppCreated', 1)], -1);
      const contents = Array.from({ length: 8 }, (_, i) => store.append(streams.child('content', appId, `c${i}`), [event(appId, 'ContentCreated', 10 + i)], -1));
      const stale = store.append(app, [event(appId, 'AppUpdated', 2)], 7);
      const fresh = store.append(app, [event(appId, 'AppUpdated', 3)], 0);
      const results = await Promise.all(contents);
      await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
      expect((await fresh).streamVersion).toBe(1);
      expect(new Set(results.map((r) => r.position)).size).toBe(8);
      const history = await store.readAppPage(appId, { number: 0 }, 100);
      expect(history.map((e) => e.number)).toEqual(history.map((_, i) => i + 1));
      expect(history.map((e) => e.data['n']).sort((a, b) => Number(a) - Number(b))).toEqual([1, 3, 10, 11, 12, 13, 14, 15, 16, 17]);
    });

    it('removes every stream of one app and leaves the others', async () => {
      const appA = randomUUID();
      const appB = randomUUID();
      await store.append(streams.app(appA), [event(appA, 'AppCreated', 1)], -1);
      await store.append(streams.child('content', appA, 'c1'), [event(appA, 'ContentCreated', 2)], -1);
      await store.append(streams.app(appB), [event(appB, 'AppCreated', 3)], -1);
      await store.deleteApp(appA);
      expect(await collect(store.readApp(appA))).toEqual([]);
      expect(await collect(store.readStream(streams.app(appA)))).toEqual([]);
      expect((await collect(store.readApp(appB))).length).toBe(1);
    });
  });
}
