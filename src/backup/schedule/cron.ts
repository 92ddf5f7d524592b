import { Cron } from 'croner';

/** A cron expression, read in UTC: 5 fields (minute first) or 6 (seconds first). */
export function parseSchedule(expression: string): { next(after: Date): Date | null } | string {
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
