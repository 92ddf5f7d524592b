import { z } from 'zod';
import { PAGE_DEFAULT, PAGE_MAX } from './api-values.js';

/**
 * One paging rule for every list: `top` (or `take` on the event history) is the page size, a whole
 * number from 1 to PAGE_MAX, PAGE_DEFAULT when left out; `skip` (or `after`) is where the page
 * starts, a whole number from 0. Query values arrive as text, so they are read as text; a 400
 * says `top: must be a whole number from 1 to 1000`.
 */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  const message = `must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`}`;
  return z
    .string({ error: `${message}, given once` })
    .regex(/^\d{1,16}$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message));
}

export const pageSize = () => wholeNumber(1, PAGE_MAX).optional().default(PAGE_DEFAULT).describe(`Page size, 1 to ${PAGE_MAX} (default ${PAGE_DEFAULT})`);
export const offset = () => wholeNumber(0).optional().default(0).describe('How many items to skip (default 0)');

/** `?top=&skip=` for lists that answer `{ total, items }`. */
export const PageQuery = z.object({ top: pageSize(), skip: offset() });
export type Page = z.infer<typeof PageQuery>;
