import { z } from 'zod';

/**
 * Pieces every part of the contract uses. Answers are strict objects: a field the contract does
 * not name is an error in the test suites (test/support/contract-check.ts), so nothing internal
 * reaches a client unnoticed.
 */

/** An ISO-8601 time; the server writes UTC (`…Z`), a request may have given an offset. */
export const Time = z.iso.datetime({ offset: true });
export const Int = z.number().int();

/** `{ statusCode, error, message }`: every error the API answers (Nest's shape). */
export const ErrorBody = z.strictObject({ statusCode: Int, error: z.string(), message: z.string() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A page of a list that pages with `top` and `skip`. */
export const pageOf = <T extends z.ZodType>(item: T) => z.strictObject({ total: Int, items: z.array(item) });
export interface PageOf<T> {
  total: number;
  items: T[];
}

export const JobStatus = z
  .enum(['Scheduled', 'Running', 'Completed', 'Failed', 'Interrupted'])
  .describe('`Interrupted`: a restore the server stopped; it keeps its name and archive until it is resumed (POST /api/restore/{id}/resume) or cancelled (DELETE /api/restore/{id})');
export type JobStatus = z.infer<typeof JobStatus>;

/** How far a job (backup, restore, rollback) is, as stored and served. */
export const jobProgressFields = {
  phase: z.string().describe('What the job does now: `queued` before it starts, `done` or `failed` after'),
  progress: z.strictObject({ done: Int, total: Int, unit: z.literal('events') }),
  percent: z.number().min(0).max(100).describe('Of the whole job; never decreases, 100 only once completed'),
  etaSeconds: Int.nullable().describe('Seconds left at the pace so far; null until there is a pace, 0 once ended'),
};

export type JobProgress = { [K in keyof typeof jobProgressFields]: z.infer<(typeof jobProgressFields)[K]> };

export const LogLine = z.strictObject({ at: Time, message: z.string() });

/** The end of a job's event stream: `event: end` with the status it ended in. */
export const JobStreamEnd = z.strictObject({ status: JobStatus });
