import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NameIndex, NameUnavailableError, ReservationLostError } from '../../src/infrastructure/name-index/name-index.port.js';

/** `create` gets a clock the test moves, so expiry is tested without waiting. */
export function nameIndexContract(name: string, create: (now: () => number) => Promise<{ index: NameIndex; close: () => Promise<void> }>): void {
  describe(`NameIndex contract: ${name}`, () => {
    let clock = 1_000_000;
    let index: NameIndex;
    let close: () => Promise<void>;
    beforeEach(async () => {
      clock = 1_000_000;
      ({ index, close } = await create(() => clock));
    });
    afterEach(async () => {
      await close();
    });
    const fresh = () => `app-${randomUUID().slice(0, 8)}`;

    it('reserves a free name, refuses a second reservation, commits and refuses it as taken', async () => {
      const n = fresh();
      const token = await index.reserve(n, 10_000);
      await expect(index.reserve(n, 10_000)).rejects.toMatchObject({ reason: 'reserved' });
      expect(await index.lookup(n)).toMatchObject({ state: 'reserved' });
      await index.commit(n, token, 'app-1');
      expect(await index.lookup(n)).toMatchObject({ state: 'committed', appId: 'app-1' });
      await expect(index.reserve(n, 10_000)).rejects.toBeInstanceOf(NameUnavailableError);
      await expect(index.reserve(n, 10_000)).rejects.toMatchObject({ reason: 'taken' });
    });

    it('frees a name on release, and only for the owner of the reservation', async () => {
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
      expect(await index.lookup(n)).toMatchObject({ state: 'committed', appId: 'app-y' });
    });

    it('frees the name of a deleted app, but only for that app', async () => {
      const n = fresh();
      await index.commit(n, await index.reserve(n, 1_000), 'app-1');
      await index.releaseApp(n, 'app-2');
      expect(await index.lookup(n)).toMatchObject({ appId: 'app-1' });
      await index.releaseApp(n, 'app-1');
      expect(await index.lookup(n)).toBeUndefined();
    });
  });
}
