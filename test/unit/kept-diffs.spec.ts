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
    for (let i = 0; i < KEPT_DIFFS; i++) await kept.use(`k${i}`, async () => keptDiff(`k${i}`, disposed), () => 0);
    expect(disposed).toEqual([]);
    release();
    expect(await slow).toBe('slow');
    await new Promise((resolve) => setImmediate(resolve));
    expect(disposed).toEqual(['slow']);
    await kept.onModuleDestroy();
  });
});
