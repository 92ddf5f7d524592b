import { describe, expect, it } from 'vitest';
import type { DiffResult } from '../../src/archive/state-diff.js';
import { KEPT_DIFFS, type KeptDiff, KeptDiffs } from '../../src/backup/diff/kept-diffs.js';

/** A kept diff whose result records its disposal. */
function keptDiff(name: string, disposed: string[]): KeptDiff {
  const result = { total: 0, dispose: async () => void disposed.push(name) } as unknown as DiffResult;
  return { from: { backupId: name, appId: 'app', appName: 'app', created: null, events: 0 }, to: { backupId: null, appId: 'app', appName: 'app', created: null, events: 0 }, result };
}

describe('kept diffs', () => {
  it('computes a diff once for all its pages, and disposes of the one used longest ago beyond the limit', async () => {
    const kept = new KeptDiffs();
    const disposed: string[] = [];
    let computed = 0;
    const use = (key: string) =>
      kept.use(
        key,
        async () => {
          computed += 1;
          return keptDiff(key, disposed);
        },
        (diff) => diff.from.backupId,
      );
    expect(await Promise.all([use('a'), use('a'), use('a')])).toEqual(['a', 'a', 'a']);
    expect(computed).toBe(1);
    for (let i = 1; i < KEPT_DIFFS; i++) await use(`k${i}`);
    await use('a'); // a is now the most recently used
    await use('new');
    await new Promise((resolve) => setImmediate(resolve));
    expect(kept.size).toBe(KEPT_DIFFS);
    expect(disposed).toEqual(['k1']);
    await use('a');
    expect(computed).toBe(KEPT_DIFFS + 1);
    await kept.onModuleDestroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(kept.size).toBe(0);
    expect(disposed.sort()).toEqual(['a', 'k1', 'k2', 'k3', 'new']);
  });

  it('does not keep a diff that failed, and keeps one whose page was refused', async () => {
    const kept = new KeptDiffs();
    const disposed: string[] = [];
    await expect(kept.use('x', () => Promise.reject(new Error('archive damaged')), () => 1)).rejects.toThrow('archive damaged');
    expect(kept.size).toBe(0);
    let computed = 0;
    const compute = async () => {
      computed += 1;
      return keptDiff('x', disposed);
    };
    await expect(
      kept.use('x', compute, () => {
        throw new Error('cursor past the end');
      }),
    ).rejects.toThrow('cursor past the end');
    expect(await kept.use('x', compute, (diff) => diff.from.backupId)).toBe('x');
    expect(computed).toBe(1);
    expect(disposed).toEqual([]);
    await kept.onModuleDestroy();
  });

  it('disposes of a diff evicted while a request still reads it only once that request is done', async () => {
    const kept = new KeptDiffs();
    const disposed: string[] = [];
    let release!: () => void;
    const slow = kept.use(
      'slow',
      async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return keptDiff('slow', disposed);
      },
      (diff) => diff.from.backupId,
    );
    // Beyond the limit a finished diff goes, not the one being computed.
    for (let i = 0; i < KEPT_DIFFS; i++) await kept.use(`k${i}`, async () => keptDiff(`k${i}`, disposed), () => 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(kept.has('slow')).toBe(true);
    expect(disposed).toEqual(['k0']);
    // Shutting down evicts it while its request still waits: it is disposed of once that request has read it.
    await kept.onModuleDestroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(disposed).not.toContain('slow');
    release();
    expect(await slow).toBe('slow');
    await new Promise((resolve) => setImmediate(resolve));
    expect(disposed).toContain('slow');
  });

  it('answers "still computing" past the wait, goes on computing, and gives the next request the result (or the failure, once)', async () => {
    const kept = new KeptDiffs();
    const disposed: string[] = [];
    let finish!: () => void;
    let computed = 0;
    const compute = () => {
      computed += 1;
      return new Promise<KeptDiff>((resolve) => (finish = () => resolve(keptDiff('slow', disposed))));
    };
    const first = await kept.use('slow', compute, (diff) => diff.from.backupId, { waitMs: 10 });
    expect(first).toMatchObject({ computing: true });
    expect((first as { since: Date }).since).toBeInstanceOf(Date);
    expect(await kept.use('slow', compute, (diff) => diff.from.backupId, { waitMs: 0 })).toMatchObject({ computing: true });
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    // Finished since: even a wait of 0 reads it, and it was computed once.
    expect(await kept.use('slow', compute, (diff) => diff.from.backupId, { waitMs: 0 })).toBe('slow');
    expect(computed).toBe(1);

    // A failure while nobody waits is neither thrown unobserved nor kept past the request that hears it.
    let fail!: (error: Error) => void;
    const failing = () => new Promise<KeptDiff>((_resolve, reject) => (fail = reject));
    expect(await kept.use('bad', failing, () => 1, { waitMs: 0 })).toMatchObject({ computing: true });
    fail(new Error('archive damaged'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(kept.has('bad')).toBe(true);
    await expect(kept.use('bad', failing, () => 1, { waitMs: 0 })).rejects.toThrow('archive damaged');
    expect(kept.has('bad')).toBe(false);
    await kept.onModuleDestroy();
  });

  it('never evicts a diff being computed to make room; finished ones go first', async () => {
    const kept = new KeptDiffs();
    const disposed: string[] = [];
    const finishers: (() => void)[] = [];
    const slow = (name: string) => () => new Promise<KeptDiff>((resolve) => finishers.push(() => resolve(keptDiff(name, disposed))));
    for (let i = 0; i <= KEPT_DIFFS; i++) expect(await kept.use(`c${i}`, slow(`c${i}`), () => 1, { waitMs: 0 })).toMatchObject({ computing: true });
    // More computations than KEPT_DIFFS: all of them stay.
    expect(kept.size).toBe(KEPT_DIFFS + 1);
    for (let i = 0; i <= KEPT_DIFFS; i++) expect(kept.has(`c${i}`)).toBe(true);
    for (const finish of finishers) finish();
    await new Promise((resolve) => setImmediate(resolve));
    // Once they are finished, a new one makes the least recently used finished one go.
    await kept.use('next', async () => keptDiff('next', disposed), () => 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(kept.size).toBe(KEPT_DIFFS);
    expect(kept.has('c0')).toBe(false);
    expect(kept.has('c1')).toBe(false);
    expect(disposed.sort()).toEqual(['c0', 'c1']);
    await kept.onModuleDestroy();
  });
});
