import { z } from 'zod';
import { multiLine, singleLine } from '../platform/text/plain-text.checks.js';
import { APP_ROLES } from './api-values.js';
import { Int, Time } from './common.schemas.js';
import { offset, pageSize } from './paging.schemas.js';

const label = z.string().trim().max(100).check(singleLine());
const description = z.string().max(1000).check(multiLine()).describe('Plain text; line breaks and tabs are the only control characters it may hold');
// Names are checked by the app's rules, whose messages name the rule (docs/api.md, Conventions).
export const CreateAppBody = z.strictObject({
  name: z.string(),
  label: label.optional(),
  description: description.optional(),
});
export const UpdateAppBody = z.strictObject({ label: label.optional(), description: description.optional() });
export const ContributorBody = z.strictObject({ email: z.string().trim().min(3).check(singleLine()), role: z.string() });

export const CURSOR_FORM = 'pass the "next" value of the previous page unchanged: two whole numbers joined by a dot, like 200.48213 (or page with after=<number> instead)';

/** `cursor` is the previous page's `next`: `<number>.<position>` of its last event. */
export const HistoryQuery = z.object({
  after: offset().describe('Events numbered up to this one are left out (default 0)'),
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,14}\.[1-9]\d{0,15}$/, `must be the "next" value of a previous page; ${CURSOR_FORM}`)
    .refine((cursor) => cursor.split('.').every((part) => Number.isSafeInteger(Number(part))), `is out of range; ${CURSOR_FORM}`)
    .optional()
    .describe('The `next` of the previous page; replaces `after` and costs the same for any page'),
  take: pageSize(),
});

export const AppRole = z.enum(APP_ROLES);

export const App = z.strictObject({
  id: z.string(),
  name: z.string(),
  label: z.string(),
  description: z.string(),
  version: Int,
  created: Time,
  createdBy: z.string(),
  lastModified: Time,
  lastModifiedBy: z.string(),
  contributors: z.array(z.strictObject({ userId: z.string(), email: z.string(), role: AppRole })),
});
export type App = z.infer<typeof App>;

export const HistoryEvent = z.strictObject({ number: Int, stream: z.string(), type: z.string(), data: z.record(z.string(), z.unknown()), actor: z.string(), timestamp: Time });
export const HistoryPage = z.strictObject({
  items: z.array(HistoryEvent),
  next: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page'),
});
