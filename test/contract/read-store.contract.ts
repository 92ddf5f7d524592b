import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appKey, FencedOutError, type ReadStore } from '../../src/infrastructure/read-store/read-store.port.js';

interface Item {
  id: string;
  appId: string;
  title: string;
  rank: number;
  published: boolean;
  tags: string[];
  note: string | null;
}

/**
 * `another`, where the adapter can, opens a second connection to the store `create` made, as
 * another process on the same database would have.
 */
export function readStoreContract(name: string, create: () => Promise<ReadStore>, another?: (store: ReadStore) => Promise<ReadStore>): void {
  describe(`ReadStore contract: ${name}`, () => {
    let store: ReadStore;
    const col = () => store.collection<Item>('contract_items', { fullText: (d) => `${d.title} ${d.tags.join(' ')}`, indexes: ['appId'] });
    beforeEach(async () => {
      store = await create();
    });
    afterEach(async () => {
      await store.close();
    });

    const item = (appId: string, n: number, extra: Partial<Item> = {}): Item => ({
      id: `${appId}-${n}`,
      appId,
      title: `Item number ${n}`,
      rank: n,
      published: n % 2 === 0,
      tags: [`tag${n}`],
      note: null,
      ...extra,
    });

    it('puts, replaces, gets and deletes documents by id', async () => {
      const appId = randomUUID();
      await col().put(item(appId, 1));
      expect(await col().get(`${appId}-1`)).toEqual(item(appId, 1));
      await col().put(item(appId, 1, { title: 'Changed' }));
      expect((await col().get(`${appId}-1`))?.title).toBe('Changed');
      await col().delete(`${appId}-1`);
      expect(await col().get(`${appId}-1`)).toBeUndefined();
    });

    it('filters by equality, booleans, nulls and array membership, and pages with a total', async () => {
      const appId = randomUUID();
      for (let n = 1; n <= 7; n++) await col().put(item(appId, n));
      await col().put(item(randomUUID(), 99));
      const page = await col().find({ appId }, { sort: [{ field: 'rank', direction: 'desc' }], top: 3, skip: 1 });
      expect(page.total).toBe(7);
      expect(page.items.map((i) => i.rank)).toEqual([6, 5, 4]);
      expect((await col().find({ appId, published: true })).items.map((i) => i.rank).sort()).toEqual([2, 4, 6]);
      expect((await col().find({ appId, tags: { $contains: 'tag3' } })).items.map((i) => i.rank)).toEqual([3]);
      expect(await col().count({ appId, note: null })).toBe(7);
      expect((await col().findOne({ appId, rank: 5 }))?.id).toBe(`${appId}-5`);
      expect(await col().findOne({ appId, rank: 500 })).toBeUndefined();
    });

    it('breaks ties by key in the direction of the last sort field, so pages are stable', async () => {
      const appId = randomUUID();
      for (const n of [3, 1, 4, 2]) await col().put(item(appId, n, { rank: 7 }));
      const ids = (page: { items: Item[] }) => page.items.map((i) => i.id.slice(appId.length + 1));
      const newestFirst = [{ field: 'rank', direction: 'desc' as const }];
      expect(ids(await col().find({ appId }, { sort: newestFirst }))).toEqual(['4', '3', '2', '1']);
      expect(ids(await col().find({ appId }, { sort: [{ field: 'rank', direction: 'asc' }] }))).toEqual(['1', '2', '3', '4']);
      expect(ids(await col().find({ appId }))).toEqual(['1', '2', '3', '4']);
      const first = await col().find({ appId }, { sort: newestFirst, top: 2 });
      const second = await col().find({ appId }, { sort: newestFirst, top: 2, skip: 2 });
      expect([...ids(first), ...ids(second)]).toEqual(['4', '3', '2', '1']);
      expect(second.total).toBe(4);
    });

    it('finds documents by words of their text, ignoring query syntax', async () => {
      const appId = randomUUID();
      await col().put(item(appId, 1, { title: 'Blue whale facts' }));
      await col().put(item(appId, 2, { title: 'Red panda', tags: ['whale-watching'] }));
      await col().put(item(appId, 3, { title: 'Green tree' }));
      const found = await col().find({ appId }, { text: 'whale', sort: [{ field: 'rank', direction: 'asc' }] });
      expect(found.items.map((i) => i.rank)).toEqual([1, 2]);
      expect((await col().find({ appId }, { text: 'blue WHALE' })).items.map((i) => i.rank)).toEqual([1]);
      expect((await col().find({ appId }, { text: '"(* OR' })).total).toBe(0);
      await col().put(item(appId, 1, { title: 'Grey seal' }));
      expect((await col().find({ appId }, { text: 'whale' })).items.map((i) => i.rank)).toEqual([2]);
    });

    it('deletes many by filter and iterates without loading everything', async () => {
      const appA = randomUUID();
      const appB = randomUUID();
      for (let n = 1; n <= 450; n++) await col().put(item(appA, n));
      await col().put(item(appB, 1));
      let seen = 0;
      for await (const doc of col().iterate({ appId: appA })) {
        expect(doc.appId).toBe(appA);
        seen += 1;
      }
      expect(seen).toBe(450);
      expect(await col().deleteMany({ appId: appA })).toBe(450);
      expect(await col().count({ appId: appA })).toBe(0);
      expect((await col().find({ appId: appA }, { text: 'item' })).total).toBe(0);
      expect(await col().count({ appId: appB })).toBe(1);
    });

    it('keys documents by a custom key, so two apps can hold the same entity id', async () => {
      const scoped = store.collection<Item>('contract_scoped', { key: (d) => appKey(d.appId, d.id), fullText: (d) => d.title });
      const [appA, appB] = [randomUUID(), randomUUID()];
      await scoped.put(item(appA, 1, { id: 'same' }));
      await scoped.put(item(appB, 2, { id: 'same', title: 'Other app' }));
      expect((await scoped.get(appKey(appA, 'same')))?.rank).toBe(1);
      expect((await scoped.get(appKey(appB, 'same')))?.rank).toBe(2);
      expect(await scoped.count({ id: 'same' })).toBe(2);
      await scoped.put(item(appA, 3, { id: 'same' }));
      expect((await scoped.get(appKey(appA, 'same')))?.rank).toBe(3);
      expect((await scoped.find({ appId: appB }, { text: 'other' })).items.map((i) => i.appId)).toEqual([appB]);
      await scoped.delete(appKey(appA, 'same'));
      expect(await scoped.get(appKey(appA, 'same'))).toBeUndefined();
      expect(await scoped.count({ id: 'same' })).toBe(1);
    });

    it('commits changes to several collections with a checkpoint, in order, as one unit', async () => {
      const appId = randomUUID();
      const other = store.collection<Item>('contract_others', { indexes: ['appId'] });
      for (let n = 1; n <= 5; n++) await col().put(item(appId, n));
      const name = `replay-${randomUUID()}`;
      await store.commit(
        [
          {
            collection: col().name,
            changes: [
              { deleteWhere: { appId, published: true } },
              { put: item(appId, 2, { title: 'Back again' }) },
              { put: item(appId, 6, { title: 'Sixth whale' }) },
              { delete: `${appId}-1` },
            ],
          },
          { collection: other.name, changes: [{ put: item(appId, 7) }] },
        ],
        { name, position: 99 },
      );
      expect((await col().find({ appId }, { sort: [{ field: 'rank', direction: 'asc' }] })).items.map((i) => i.rank)).toEqual([2, 3, 5, 6]);
      expect((await col().get(`${appId}-2`))?.title).toBe('Back again');
      expect((await col().find({ appId }, { text: 'whale' })).items.map((i) => i.rank)).toEqual([6]);
      expect((await col().find({ appId }, { text: 'number' })).items.map((i) => i.rank)).toEqual([3, 5]);
      expect(await other.count({ appId })).toBe(1);
      expect(await store.getCheckpoint(name)).toBe(99);
      expect(col().keyOf(item(appId, 3))).toBe(`${appId}-3`);
    });

    it('replaces and removes full text by key however many documents the collection holds', async () => {
      const appId = randomUUID();
      const changes = Array.from({ length: 300 }, (_, n) => ({ put: item(appId, n, { title: `common w${n}x` }) }));
      await store.commit([{ collection: col().name, changes }]);
      await store.commit([{ collection: col().name, changes: [{ put: item(appId, 7, { title: 'rare' }) }, { delete: `${appId}-8` }] }]);
      expect((await col().find({ appId }, { text: 'w7x' })).total).toBe(0);
      expect((await col().find({ appId }, { text: 'w8x' })).total).toBe(0);
      expect((await col().find({ appId }, { text: 'rare' })).items.map((i) => i.rank)).toEqual([7]);
      expect((await col().find({ appId }, { text: 'common' })).total).toBe(298);
    });

    it('inserts a document only if its key is free, and answers the one stored', async () => {
      const appId = randomUUID();
      expect(await col().insertIfMissing(item(appId, 1, { title: 'first whale' }))).toEqual(item(appId, 1, { title: 'first whale' }));
      expect(await col().insertIfMissing(item(appId, 1, { title: 'second' }))).toEqual(item(appId, 1, { title: 'first whale' }));
      expect((await col().get(`${appId}-1`))?.title).toBe('first whale');
      expect((await col().find({ appId }, { text: 'whale' })).total).toBe(1);
      expect((await col().find({ appId }, { text: 'second' })).total).toBe(0);
    });

    it('gives every connection racing to insert the same key the same document', async (context) => {
      if (!another) return context.skip();
      const others = await Promise.all([another(store), another(store), another(store)]);
      try {
        const stores = [store, ...others];
        for (let round = 0; round < 20; round++) {
          const key = `race-${randomUUID()}`;
          const stored = await Promise.all(stores.map((s, n) => s.collection<Item>('contract_items').insertIfMissing(item(key, 0, { id: key, title: `by ${n}` }))));
          expect(new Set(stored.map((d) => d.title)).size, key).toBe(1);
          expect((await col().get(key))?.title).toBe(stored[0]!.title);
        }
      } finally {
        for (const other of others) await other.close();
      }
    });

    it('fences commits: after a takeover, a commit under the older fence is refused and writes nothing', async () => {
      const appId = randomUUID();
      const name = `projector-${randomUUID()}`;
      await store.setCheckpoint(name, 10);
      const first = await store.takeOver(name);
      expect(first.position).toBe(10);
      await store.commit([{ collection: col().name, changes: [{ put: item(appId, 1) }] }], { name, position: 11 }, first.fence);
      const second = await store.takeOver(name);
      expect(second.fence.token).not.toBe(first.fence.token);
      expect(second.position).toBe(11);
      const stale = store.commit([{ collection: col().name, changes: [{ put: item(appId, 1, { title: 'stale' }) }, { put: item(appId, 2) }] }], { name, position: 12 }, first.fence);
      await expect(stale).rejects.toBeInstanceOf(FencedOutError);
      await expect(stale).rejects.toThrow(/Another process has taken the "projector-.*" checkpoint over/);
      expect((await col().get(`${appId}-1`))?.title).toBe('Item number 1');
      expect(await col().get(`${appId}-2`)).toBeUndefined();
      expect(await store.getCheckpoint(name)).toBe(11);
      await store.commit([{ collection: col().name, changes: [{ put: item(appId, 2) }] }], { name, position: 12 }, second.fence);
      expect(await store.getCheckpoint(name)).toBe(12);
      // A checkpoint nobody took over yet starts at 0; commits without a fence are never refused.
      const fresh = await store.takeOver(`other-${randomUUID()}`);
      expect(fresh.position).toBe(0);
      await store.commit([{ collection: col().name, changes: [{ put: item(appId, 3) }] }]);
      expect(await col().get(`${appId}-3`)).toBeDefined();
    });

    it('stores checkpoints by name', async () => {
      const name = `projector-${randomUUID()}`;
      expect(await store.getCheckpoint(name)).toBe(0);
      await store.setCheckpoint(name, 42);
      await store.setCheckpoint(name, 43);
      expect(await store.getCheckpoint(name)).toBe(43);
    });
  });
}
