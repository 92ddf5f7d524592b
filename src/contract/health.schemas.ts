import { z } from 'zod';
import { Int } from './common.schemas.js';

export const Health = z.strictObject({
  status: z.enum(['ok', 'starting', 'failed']).describe('`starting` while the projections catch up; `failed` (with 503) when start-up failed'),
  eventStore: z.enum(['sqlite', 'eventstoredb']),
  readStore: z.enum(['sqlite', 'mongodb']),
  projectionLag: Int.describe('Events the read models have yet to apply (counted up to 10,000)'),
});
export type Health = z.infer<typeof Health>;

export const Liveness = z.strictObject({ status: z.literal('live') });
export const Readiness = z.strictObject({ status: z.literal('ready') });

/** Why the server is not ready: still starting, start-up failed, or a store does not answer. */
export const NotReady = z.strictObject({
  status: z.enum(['starting', 'failed', 'unavailable']),
  reason: z.string(),
  projectionLag: Int.nullable().optional(),
});
