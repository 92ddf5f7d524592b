import { z } from 'zod';
import { Int, Time } from './common.schemas.js';
import { PageQuery } from './paging.schemas.js';

export const CONTENT_STATUSES = ['Draft', 'Published', 'Archived'] as const;
export type ContentStatus = (typeof CONTENT_STATUSES)[number];

export const ContentListQuery = PageQuery.extend({
  q: z.string('must be given once').optional().describe('Full-text search: every word must start a word of the data'),
});
export const ContentCreateQuery = z.object({ publish: z.enum(['true', 'false'], 'must be true or false').optional() });
// The data is checked against the schema by the content's rules, whose messages name each field.
export const ContentDataBody = z.strictObject({ data: z.unknown().optional() });
export const ContentStatusBody = z.strictObject({ status: z.string() });

export const Content = z.strictObject({
  id: z.string(),
  schema: z.string(),
  data: z.record(z.string(), z.unknown()),
  status: z.enum(CONTENT_STATUSES),
  version: Int,
  created: Time,
  createdBy: z.string(),
  lastModified: Time,
  lastModifiedBy: z.string(),
});
export type Content = z.infer<typeof Content>;
