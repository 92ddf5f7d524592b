import { describe, expect, it } from 'vitest';
import { isoWeekOf, keptWithOneMore, mostKept, planPruning, type RetentionCandidate, selectForPruning } from '../../src/backup/schedule/retention.js';

const scheduled = (id: string, created: string, status: RetentionCandidate['status'] = 'Completed'): RetentionCandidate => ({ id, created, status, trigger: 'scheduled' });
const manual = (id: string, created: string, status: RetentionCandidate['status'] = 'Completed'): RetentionCandidate => ({ id, created, status, trigger: 'manual' });

/** Four scheduled backups a day, 06:00/12:00/18:00/23:00 UTC, for the 70 days up to 2026-12-02. */
function everySixHours(): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  const last = Date.UTC(2026, 11, 2);
  for (let day = 69; day >= 0; day -= 1) {
    for (const hour of [6, 12, 18, 23]) {
      const at = new Date(last - day * 86_400_000 + hour * 3_600_000).toISOString();
      out.push(scheduled(`s-${at}`, at));
    }
  }
  return out;
}

const kept = (all: RetentionCandidate[], pruned: string[]) => all.filter((b) => !pruned.includes(b.id)).map((b) => b.id);

describe('retention selection', () => {
  it('prunes nothing without a keep rule', () => {
    expect(selectForPruning(everySixHours(), {})).toEqual([]);
  });

  it('keepLast keeps the N newest scheduled backups and prunes the rest, oldest first', () => {
    const all = [scheduled('a', '2026-12-01T00:00:00.000Z'), scheduled('b', '2026-12-01T01:00:00.000Z'), scheduled('c', '2026-12-01T02:00:00.000Z'), scheduled('d', '2026-12-01T03:00:00.000Z')];
    expect(selectForPruning(all, { keepLast: 2 })).toEqual(['a', 'b']);
    expect(selectForPruning([...all].reverse(), { keepLast: 2 })).toEqual(['a', 'b']);
  });

  it('never prunes a manual backup, nor a running one', () => {
    const all = [
      manual('m-old', '2026-01-01T00:00:00.000Z'),
      manual('m-failed', '2026-01-02T00:00:00.000Z', 'Failed'),
      scheduled('a', '2026-12-01T00:00:00.000Z'),
      scheduled('b', '2026-12-01T01:00:00.000Z'),
      scheduled('running', '2026-12-01T02:00:00.000Z', 'Running'),
    ];
    expect(selectForPruning(all, { keepLast: 1 })).toEqual(['a']);
  });

  it('never prunes the newest successful backup, even when newer ones failed', () => {
    const all = [scheduled('a', '2026-12-01T00:00:00.000Z'), scheduled('ok', '2026-12-01T01:00:00.000Z'), scheduled('f1', '2026-12-01T02:00:00.000Z', 'Failed'), scheduled('f2', '2026-12-01T03:00:00.000Z', 'Failed')];
    expect(selectForPruning(all, { keepDaily: 1 })).toEqual(['a']);
    expect(selectForPruning(all, { keepLast: 1 })).toEqual(['a']);
  });

  it('prunes failed scheduled backups older than the newest successful one, keeps newer failures', () => {
    const all = [scheduled('f-old', '2026-12-01T00:00:00.000Z', 'Failed'), scheduled('ok', '2026-12-01T01:00:00.000Z'), scheduled('f-new', '2026-12-01T02:00:00.000Z', 'Failed')];
    expect(selectForPruning(all, { keepLast: 5 })).toEqual(['f-old']);
  });

  it('keepDaily keeps the newest backup of each of the last N UTC days', () => {
    const all = everySixHours();
    const pruned = selectForPruning(all, { keepDaily: 3 });
    expect(kept(all, pruned)).toEqual(['s-2026-11-30T23:00:00.000Z', 's-2026-12-01T23:00:00.000Z', 's-2026-12-02T23:00:00.000Z']);
  });

  it('keepWeekly keeps the newest of each of the last N ISO weeks (Monday to Sunday)', () => {
    const all = everySixHours();
    const pruned = selectForPruning(all, { keepWeekly: 3 });
    // 2026-12-02 is a Wednesday (week 49); weeks 48 and 47 end on Sundays 2026-11-29 and 2026-11-22.
    expect(kept(all, pruned)).toEqual(['s-2026-11-22T23:00:00.000Z', 's-2026-11-29T23:00:00.000Z', 's-2026-12-02T23:00:00.000Z']);
  });

  it('keepMonthly keeps the newest of each of the last N months', () => {
    const all = everySixHours();
    const pruned = selectForPruning(all, { keepMonthly: 2 });
    expect(kept(all, pruned)).toEqual(['s-2026-11-30T23:00:00.000Z', 's-2026-12-02T23:00:00.000Z']);
  });

  it('counts only buckets that have a backup (restic-style), and combines rules', () => {
    const all = [
      scheduled('jan', '2026-01-15T00:00:00.000Z'),
      scheduled('mar', '2026-03-15T00:00:00.000Z'),
      scheduled('jun-1', '2026-06-01T00:00:00.000Z'),
      scheduled('jun-2', '2026-06-02T00:00:00.000Z'),
      scheduled('jun-2b', '2026-06-02T12:00:00.000Z'),
    ];
    // Three months with backups: June, March, January; and the last 1: jun-2b (already kept).
    expect(selectForPruning(all, { keepMonthly: 3, keepLast: 1 })).toEqual(['jun-1', 'jun-2']);
    expect(selectForPruning(all, { keepDaily: 2 })).toEqual(['jan', 'mar', 'jun-2']);
  });

  it('numbers ISO weeks across year ends', () => {
    expect(isoWeekOf(new Date('2026-12-02T10:00:00Z'))).toBe('2026-W49');
    expect(isoWeekOf(new Date('2021-01-03T23:59:59Z'))).toBe('2020-W53');
    expect(isoWeekOf(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeekOf(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
  });

  it('counts what a scheduled run would leave stored, never more than the keep rules add up to', () => {
    const all = everySixHours();
    const now = '2026-12-03T06:00:00.000Z';
    // Without rules nothing is pruned: every Completed scheduled backup and the new one.
    expect(keptWithOneMore(all, {}, now)).toBe(all.length + 1);
    expect(keptWithOneMore(all, { keepLast: 5 }, now)).toBe(5);
    const rules = { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 };
    expect(mostKept(rules)).toBe(26);
    const kept = keptWithOneMore(all, rules, now);
    expect(kept).toBeLessThanOrEqual(mostKept(rules));
    expect(kept).toBe(all.length + 1 - selectForPruning([...all, scheduled('new', now)], rules).length);
    // Failed backups hold no archive and do not count; manual ones are not scheduled.
    expect(keptWithOneMore([scheduled('f', '2026-12-01T00:00:00.000Z', 'Failed'), manual('m', '2026-12-01T01:00:00.000Z')], {}, now)).toBe(1);
    // keepLast 1000 on a stored pile: the pile and the new one.
    expect(keptWithOneMore(all.slice(-60), { keepLast: 1000 }, now)).toBe(61);
  });
});

describe('retention with locked copies', () => {
  const now = '2026-12-02T00:00:00.000Z';
  const locked = (b: RetentionCandidate, until: string, repository = 'offsite'): RetentionCandidate => ({ ...b, lockedUntil: until, lockedIn: repository });

  it('keeps a backup its rules would delete while one of its copies is locked, and says which and until when', () => {
    const all = [
      locked(scheduled('a', '2026-11-28T00:00:00.000Z'), '2026-12-05T00:00:00.000Z'),
      scheduled('b', '2026-11-29T00:00:00.000Z'),
      locked(scheduled('c', '2026-11-30T00:00:00.000Z'), '2026-12-01T00:00:00.000Z'),
      scheduled('d', '2026-12-01T00:00:00.000Z'),
    ];
    expect(planPruning(all, { keepLast: 1 }, now)).toEqual({ prune: ['b', 'c'], held: [{ id: 'a', repository: 'offsite', until: '2026-12-05T00:00:00.000Z' }], bases: [] });
  });

  it('changes nothing else: a lock on a kept backup holds nothing, and without rules nothing is pruned', () => {
    const all = [scheduled('a', '2026-11-30T00:00:00.000Z'), locked(scheduled('b', '2026-12-01T00:00:00.000Z'), '2027-01-01T00:00:00.000Z')];
    expect(planPruning(all, { keepLast: 1 }, now)).toEqual({ prune: ['a'], held: [], bases: [] });
    expect(planPruning(all, {}, now)).toEqual({ prune: [], held: [], bases: [] });
  });
});

describe('retention with incremental chains', () => {
  const now = '2026-12-08T00:00:00.000Z';
  const on = (b: RetentionCandidate, base: string): RetentionCandidate => ({ ...b, base });

  it('keeps the bases of every kept increment, down to the full backup, and says which', () => {
    // full a, increments b ← c ← d; full e, increment f. keepLast 2 keeps f and e by rule; d by neither.
    const all = [
      scheduled('a', '2026-12-01T00:00:00.000Z'),
      on(scheduled('b', '2026-12-02T00:00:00.000Z'), 'a'),
      on(scheduled('c', '2026-12-03T00:00:00.000Z'), 'b'),
      on(scheduled('d', '2026-12-04T00:00:00.000Z'), 'c'),
      scheduled('e', '2026-12-05T00:00:00.000Z'),
      on(scheduled('f', '2026-12-06T00:00:00.000Z'), 'e'),
    ];
    // Nothing keeps d, so its whole chain goes.
    expect(planPruning(all, { keepLast: 2 }, now)).toEqual({ prune: ['a', 'b', 'c', 'd'], held: [], bases: [] });
    // keepLast 1 keeps f only: e stays as its base.
    expect(planPruning(all, { keepLast: 1 }, now)).toEqual({ prune: ['a', 'b', 'c', 'd'], held: [], bases: ['e'] });
    // A kept increment deep in a chain keeps every base under it: keepDaily 1 per day for the 4th (d).
    const kept = [...all.slice(0, 4), manual('m', '2026-12-07T00:00:00.000Z')];
    expect(planPruning(kept, { keepDaily: 1 }, now)).toEqual({ prune: [], held: [], bases: ['a', 'b', 'c'] });
    expect(selectForPruning(kept, { keepDaily: 1 })).toEqual([]);
  });

  it('keeps the base of a manual increment, of one held by a lock, and not that of a failed one', () => {
    const all = [
      scheduled('a', '2026-12-01T00:00:00.000Z'),
      scheduled('b', '2026-12-02T00:00:00.000Z'),
      on(manual('m', '2026-12-03T00:00:00.000Z'), 'a'),
      { ...on(scheduled('x', '2026-12-04T00:00:00.000Z'), 'b'), status: 'Failed' as const },
      scheduled('c', '2026-12-05T00:00:00.000Z'),
    ];
    expect(planPruning(all, { keepLast: 1 }, now)).toEqual({ prune: ['b', 'x'], held: [], bases: ['a'] });
    const locked = [scheduled('a', '2026-12-01T00:00:00.000Z'), { ...on(scheduled('b', '2026-12-02T00:00:00.000Z'), 'a'), lockedUntil: '2027-01-01T00:00:00.000Z', lockedIn: 'offsite' }, scheduled('c', '2026-12-05T00:00:00.000Z')];
    expect(planPruning(locked, { keepLast: 1 }, now)).toEqual({ prune: [], held: [{ id: 'b', repository: 'offsite', until: '2027-01-01T00:00:00.000Z' }], bases: ['a'] });
  });
});
