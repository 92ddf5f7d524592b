import { z } from 'zod';
import { DiffPreview } from './diffs.schemas.js';
import { Int, JobStatus, jobProgressFields, LogLine, Time } from './common.schemas.js';
// The report lists at most LISTED_PER_KIND ids per kind and change (api-values.ts).

export const RollbackBody = z
  .strictObject({
    backupId: z.string().min(1).max(100).optional().describe('A Completed, whole-app backup of this app'),
    untilEvent: z.number().int('must be a whole number').min(1).optional().describe('The number of the last event of the app’s history to keep the state of'),
    until: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time like 2026-05-01T12:00:00Z' }).optional().describe('The state as of this time'),
    dryRun: z.boolean().optional().describe('Report what would change, writing nothing'),
  })
  .superRefine((body, ctx) => {
    const given = (['backupId', 'untilEvent', 'until'] as const).filter((key) => body[key] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', path: given.length > 1 ? [given[1]!] : [], message: 'give exactly one of backupId, untilEvent or until' });
  });

export const RollbackTarget = z.strictObject({
  backupId: z.string().nullable(),
  untilEvent: Int.nullable(),
  until: Time.nullable(),
  position: Int.describe('The store position the state is taken at'),
  event: Int.describe('The number of the app’s last event the state is taken at'),
});
export type RollbackTarget = z.infer<typeof RollbackTarget>;

const kindChanges = z.strictObject({ created: z.array(z.string()), changed: z.array(z.string()), deleted: z.array(z.string()) });
/** Per kind, what a rollback creates again, changes back or deletes (schemas by name, the rest by id; at most LISTED_PER_KIND each). */
export const RollbackChanges = z.strictObject({ schemas: kindChanges, contents: kindChanges, assets: kindChanges });
export type RollbackChanges = z.infer<typeof RollbackChanges>;
export type KindChanges = z.infer<typeof kindChanges>;

export const ChangeCounts = z.strictObject({ created: Int, changed: Int, deleted: Int });
export type ChangeCounts = z.infer<typeof ChangeCounts>;

/** A rollback's dry run: per kind, what would be created, changed and deleted; nothing written. */
export const RollbackPreflight = z.strictObject({
  dryRun: z.literal(true),
  app: z.strictObject({ id: z.string(), name: z.string() }),
  target: RollbackTarget,
  changes: RollbackChanges,
  counts: ChangeCounts,
  events: Int.describe('How many events the rollback would append (its marker included)'),
  diff: DiffPreview.describe('What changed in the app since the target (the backup, or the state rolled back to), from the target to the app now: the rollback takes back what it shows of schemas, contents and assets; contributors stay as they are'),
});
export type RollbackPreflight = z.infer<typeof RollbackPreflight>;

/** A rollback whose events were stored only in part (EventStoreDB writes stream by stream). */
const PartialRollback = z.strictObject({
  writtenStreams: Int,
  written: z.array(z.string()),
  failedStream: z.string(),
  uncertain: z.boolean(),
  remainingStreams: Int,
  appEvents: Int,
  uncertainEvents: Int,
  recovery: z.enum(['finished', 'app-changed']).nullable(),
});

export const Rollback = z.strictObject({
  id: z.string(),
  appId: z.string(),
  appName: z.string(),
  status: JobStatus,
  target: RollbackTarget,
  safetyBackupId: z.string().nullable(),
  changes: RollbackChanges.nullable(),
  counts: ChangeCounts.nullable(),
  appendedEvents: Int,
  created: Time,
  started: Time.nullable(),
  completed: Time.nullable(),
  error: z.string().nullable(),
  log: z.array(LogLine),
  partial: PartialRollback.nullable(),
  ...jobProgressFields,
});
export type Rollback = z.infer<typeof Rollback>;
