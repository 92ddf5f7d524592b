import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Claim, claims, type NameIndex, NameUnavailableError, ReservationLostError } from '../../src/infrastructure/name-index/name-index.port.js';

/** How a contract run can put other OS processes on the same store (see claims-race.worker.mjs). */
export interface SharedStore {
  /** Environment for the worker: which adapter, and where its store is. */
  env: () => Record<string, string>;
}

/**
 * `create` gets a shift of the store's clock that the test moves (StoreClockOptions.shiftMs), so
 * expiry is tested without waiting. The clock of the process asking is never consulted: tests that
 * set it minutes off show that.
 */
export function nameIndexContract(
  name: string,
  create: (shiftMs: () => number) => Promise<{ index: NameIndex; close: () => Promise<void>; shared?: SharedStore }>,
): void {
  describe(`NameIndex contract: ${name}`, () => {
    let clock = 0;
    let index: NameIndex;
    let close: () => Promise<void>;
    let shared: SharedStore | undefined;
    beforeEach(async () => {
      clock = 0;
      ({ index, close, shared } = await create(() => clock));
    });
    afterEach(async () => {
      await close();
    });
    const fresh = (): Claim => claims.appName(`app-${randomUUID().slice(0, 8)}`);

    it('reserves a free claim, refuses a second reservation, commits and refuses it as taken', async () => {
      const n = fresh();
      const token = await index.reserve(n, 10_000, 'job-1');
      await expect(index.reserve(n, 10_000)).rejects.toMatchObject({ reason: 'reserved', holder: 'job-1' });
      expect(await index.lookup(n)).toMatchObject({ claim: n, state: 'reserved', holder: 'job-1' });
      await index.commit(n, token, 'app-1');
      expect(await index.lookup(n)).toMatchObject({ state: 'committed', owner: 'app-1' });
      await expect(index.reserve(n, 10_000)).rejects.toBeInstanceOf(NameUnavailableError);
      await expect(index.reserve(n, 10_000)).rejects.toMatchObject({ reason: 'taken' });
    });

    it('keeps kinds and scopes apart: the same key is free in another kind or scope', async () => {
      await index.reserve(claims.schemaName('app-1', 'blog'), 10_000);
      await index.reserve(claims.schemaName('app-2', 'blog'), 10_000);
      await index.reserve(claims.appName('blog'), 10_000);
      await index.reserve(claims.email('blog'), 10_000);
      await expect(index.reserve(claims.schemaName('app-1', 'blog'), 10_000)).rejects.toBeInstanceOf(NameUnavailableError);
      expect(await index.lookup(claims.schemaName('app-3', 'blog'))).toBeUndefined();
    });

    it('says in its refusal what the claim is about', async () => {
      const schema = claims.schemaName('app-1', 'posts');
      await index.commit(schema, await index.reserve(schema, 1_000), 'schema-1');
      await expect(index.reserve(schema, 1_000)).rejects.toThrow('A schema named "posts" exists already in this app');
      await index.reserve(claims.restoreSlot(), 1_000, 'job-9');
      await expect(index.reserve(claims.restoreSlot(), 1_000)).rejects.toThrow(/Another restore is running/);
    });

    it('keeps keys, scopes and holders as given, also ones that look like operators or field paths', async () => {
      const claim = claims.email(`$${randomUUID().slice(0, 8)}@example.com`);
      const token = await index.reserve(claim, 10_000, '$holder');
      expect(await index.lookup(claim)).toMatchObject({ claim, state: 'reserved', holder: '$holder' });
      await expect(index.reserve(claim, 10_000)).rejects.toMatchObject({ reason: 'reserved', holder: '$holder' });
      const next = await index.handOver(claim, token, 10_000, '$$NOW');
      expect(await index.lookup(claim)).toMatchObject({ claim, holder: '$$NOW' });
      await index.commit(claim, next, '$owner');
      expect(await index.lookup(claim)).toMatchObject({ claim, state: 'committed', owner: '$owner' });
      const schema = claims.schemaName('$scope', '$name.with.dots');
      await index.reserve(schema, 10_000);
      expect(await index.lookup(schema)).toMatchObject({ claim: schema });
    });

    it('frees a claim on release, and only for the owner of the reservation', async () => {
      const n = fresh();
      const token = await index.reserve(n, 10_000);
      await index.release(n, 'someone-else');
      expect(await index.lookup(n)).toBeDefined();
      await index.release(n, token);
      expect(await index.lookup(n)).toBeUndefined();
      const again = await index.reserve(n, 10_000);
      expect(again).not.toBe(token);
    });

    it('lets a reservation of a dead process expire, and renewal keep a live one', async () => {
      const n = fresh();
      const stale = await index.reserve(n, 1_000);
      clock += 1_001;
      expect(await index.lookup(n)).toBeUndefined();
      const live = await index.reserve(n, 1_000);
      await expect(index.commit(n, stale, 'app-x')).rejects.toBeInstanceOf(ReservationLostError);
      await expect(index.renew(n, stale, 1_000)).rejects.toBeInstanceOf(ReservationLostError);
      clock += 900;
      await index.renew(n, live, 1_000);
      clock += 900;
      await expect(index.reserve(n, 1_000)).rejects.toMatchObject({ reason: 'reserved' });
      await index.commit(n, live, 'app-y');
      clock += 1_000_000;
      expect(await index.lookup(n)).toMatchObject({ state: 'committed', owner: 'app-y' });
    });

    it('does not renew a reservation that expired, even if nobody took it: others may have seen it free', async () => {
      const slot = claims.backupSlot('app-1');
      const token = await index.reserve(slot, 1_000, 'job-1');
      clock += 1_001;
      await expect(index.renew(slot, token, 1_000)).rejects.toBeInstanceOf(ReservationLostError);
    });

    it('judges expiry by the store\'s clock: a process whose clock is minutes off neither frees a live reservation nor keeps a dead one', async () => {
      const n = fresh();
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        // The holder's clock runs two minutes behind: its reservation and renewals are live all the same.
        vi.setSystemTime(Date.now() - 120_000);
        const token = await index.reserve(n, 10_000, 'behind');
        await index.renew(n, token, 10_000);
        // Another process's clock runs two minutes ahead: the reservation is live for it too.
        vi.setSystemTime(Date.now() + 240_000);
        await expect(index.reserve(n, 10_000, 'ahead')).rejects.toMatchObject({ reason: 'reserved', holder: 'behind' });
        expect(await index.lookup(n)).toMatchObject({ state: 'reserved', holder: 'behind' });
        await expect(index.handOver(n, 'not-the-token', 10_000)).rejects.toBeInstanceOf(ReservationLostError);
        // Past its expiry by the store's clock it is free, whatever the processes' clocks say.
        clock += 10_001;
        vi.setSystemTime(Date.now() - 240_000);
        expect(await index.lookup(n)).toBeUndefined();
        await expect(index.renew(n, token, 10_000)).rejects.toBeInstanceOf(ReservationLostError);
        await index.reserve(n, 10_000, 'next');
        expect(await index.lookup(n)).toMatchObject({ holder: 'next' });
      } finally {
        vi.useRealTimers();
      }
    });

    it('hands a live reservation over to exactly one new owner, whose token then owns it', async () => {
      const slot = claims.restoreSlot();
      const first = await index.reserve(slot, 1_000, 'job-1');
      const attempts = await Promise.allSettled([index.handOver(slot, first, 1_000, 'runner-a'), index.handOver(slot, first, 1_000, 'runner-b')]);
      const won = attempts.filter((a): a is PromiseFulfilledResult<string> => a.status === 'fulfilled');
      expect(won).toHaveLength(1);
      expect(attempts.find((a) => a.status === 'rejected')).toMatchObject({ reason: expect.any(ReservationLostError) });
      const next = won[0]!.value;
      expect(next).not.toBe(first);
      expect(await index.lookup(slot)).toMatchObject({ state: 'reserved', holder: expect.stringMatching(/^runner-[ab]$/) });
      await expect(index.renew(slot, first, 1_000)).rejects.toBeInstanceOf(ReservationLostError);
      clock += 900;
      await index.renew(slot, next, 1_000);
      clock += 900;
      expect(await index.lookup(slot)).toBeDefined();
      // An expired reservation cannot be handed over: others may have seen it free.
      clock += 1_001;
      await expect(index.handOver(slot, next, 1_000)).rejects.toBeInstanceOf(ReservationLostError);
      await index.release(slot, first);
      await index.release(slot, next);
      expect(await index.lookup(slot)).toBeUndefined();
    });

    it('frees a committed claim of a deleted owner, but only for that owner', async () => {
      const n = fresh();
      await index.commit(n, await index.reserve(n, 1_000), 'app-1');
      await index.releaseOwned(n, 'app-2');
      expect(await index.lookup(n)).toMatchObject({ owner: 'app-1' });
      await index.releaseOwned(n, 'app-1');
      expect(await index.lookup(n)).toBeUndefined();
    });

    it('gives each claim to exactly one of several processes racing for it', async (context) => {
      if (!shared) return context.skip();
      const keys = Array.from({ length: 200 }, (_, i) => `race-${randomUUID().slice(0, 6)}-${i}`);
      const children = ['p1', 'p2', 'p3'].map((worker) => {
        const child = spawn(process.execPath, ['test/support/claims-race.worker.mjs'], {
          env: { ...process.env, ...shared!.env(), RACE_KEYS: keys.join(','), RACE_OWNER: worker },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
        return { worker, child, next: async () => String((await lines.next()).value) };
      });
      // Every worker has its store open before any starts: the attempts overlap.
      for (const c of children) expect(await c.next()).toBe('ready');
      for (const c of children) c.child.stdin.end('go\n');
      const workers = await Promise.all(children.map(async (c) => ({ worker: c.worker, ...(JSON.parse(await c.next()) as { won: string[]; refused: string[]; errors: string[]; started: number; ended: number }) })));
      for (const w of workers) expect(w.errors).toEqual([]);
      for (const key of keys) {
        const winners = workers.filter((w) => w.won.includes(key)).map((w) => w.worker);
        expect(winners, key).toHaveLength(1);
        expect(await index.lookup(claims.schemaName('race', key)), key).toMatchObject({ state: 'committed', owner: winners[0] });
      }
      // Every worker tried every key: each one it did not win, it was refused (never a store error).
      for (const w of workers) expect(w.won.length + w.refused.length).toBe(keys.length);
      // And the race was real: all three were at it at the same time. (Who wins how many is up to the store's lock.)
      expect(Math.max(...workers.map((w) => w.started))).toBeLessThan(Math.min(...workers.map((w) => w.ended)));
    });
  });
}
