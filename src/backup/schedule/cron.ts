import { Cron } from 'croner';
import { TimeSlicer } from '../../platform/time-slicer.js';

export interface Schedule {
  /** The first occurrence strictly after `after`, or null when there is none. */
  next(after: Date): Date | null;
}

/** A cron expression, read in UTC: 5 fields (minute first) or 6 (seconds first). */
export function parseSchedule(expression: string): Schedule | string {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    return `must be a cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields.length}`;
  }
  let cron: Cron;
  try {
    cron = new Cron(fields.join(' '), { timezone: 'UTC', paused: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `is not a valid cron expression: ${message.replace(/^CronPattern:\s*/, '')}`;
  }
  const probe = cron.nextRun(new Date());
  if (!probe) return 'never occurs';
  return { next: (after: Date) => cron.nextRun(after) };
}

/**
 * Occurrences looked at for the shortest gap between two runs. A gap comes from the time fields
 * (within a day) or from two selected days meeting (the 31st and the 1st, February 29th and March
 * 1st), so it shows within the first days, months or, rarely, years of occurrences; a schedule
 * that runs too often shows it at the first pair.
 */
const GAP_OCCURRENCES = 1000;

/**
 * The first gap shorter than `minMs` between two consecutive occurrences after `from`, looking
 * at the next GAP_OCCURRENCES of them, or undefined when there is none. Each occurrence costs
 * croner tens of microseconds, so the loop gives the event loop a turn now and then.
 */
export async function gapShorterThan(schedule: Schedule, from: Date, minMs: number): Promise<{ gapMs: number; at: Date } | undefined> {
  const slicer = new TimeSlicer();
  let previous = schedule.next(from);
  for (let seen = 0; previous && seen < GAP_OCCURRENCES; seen++) {
    const next = schedule.next(previous);
    if (!next) return undefined;
    const gapMs = next.getTime() - previous.getTime();
    if (gapMs < minMs) return { gapMs, at: previous };
    previous = next;
    await slicer.tick();
  }
  return undefined;
}

const UNITS = [
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1000, 'second'],
] as const;

/** `15 minutes`, `1 second`, `90 seconds`: the largest unit that measures it exactly. */
export function describeDuration(ms: number): string {
  for (const [size, unit] of UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}
