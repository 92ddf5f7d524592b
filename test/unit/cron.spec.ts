import { describe, expect, it } from 'vitest';
import { describeDuration, gapShorterThan, parseSchedule, type Schedule } from '../../src/backup/schedule/cron.js';

const MIN = 60_000;
const schedule = (expression: string): Schedule => {
  const parsed = parseSchedule(expression);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};
const from = new Date('2026-12-07T00:00:00.000Z');

describe('schedules', () => {
  it('finds the shortest gap between runs wherever it lies', async () => {
    expect(await gapShorterThan(schedule('*/1 * * * * *'), from, 15 * MIN)).toEqual({ gapMs: 1000, at: new Date('2026-12-07T00:00:01.000Z') });
    expect((await gapShorterThan(schedule('0-59 * * * * *'), from, 15 * MIN))?.gapMs).toBe(1000);
    expect((await gapShorterThan(schedule('*/5 * * * *'), from, 15 * MIN))?.gapMs).toBe(5 * MIN);
    // Once a day, two runs a minute apart.
    expect(await gapShorterThan(schedule('0,1 3 * * *'), from, 15 * MIN)).toEqual({ gapMs: MIN, at: new Date('2026-12-07T03:00:00.000Z') });
    // Across midnight: 23:59, then 00:00 the next day.
    expect((await gapShorterThan(schedule('59 23 * * *'), from, 15 * MIN))).toBeUndefined();
    expect((await gapShorterThan(schedule('0,59 0,23 * * *'), from, 15 * MIN))?.gapMs).toBe(MIN);
    // Only where the 31st meets the 1st, months away.
    expect((await gapShorterThan(schedule('0,50 0,23 1,31 * *'), from, 15 * MIN))?.gapMs).toBe(10 * MIN);
  });

  it('lets schedules through whose runs are far enough apart', async () => {
    for (const expression of ['0 3 * * *', '*/15 * * * *', '0 0 1 1 *', '30 0 0 1 1 *', '0 */6 * * 1-5', '0 3 L * *', '0 0 29 2 *']) {
      expect(await gapShorterThan(schedule(expression), from, 15 * MIN), expression).toBeUndefined();
    }
  });

  it('says a duration in the largest unit that measures it', () => {
    expect(describeDuration(15 * MIN)).toBe('15 minutes');
    expect(describeDuration(1000)).toBe('1 second');
    expect(describeDuration(90_000)).toBe('90 seconds');
    expect(describeDuration(3_600_000)).toBe('1 hour');
    expect(describeDuration(2 * 86_400_000)).toBe('2 days');
    expect(describeDuration(1500)).toBe('1500 ms');
  });
});
