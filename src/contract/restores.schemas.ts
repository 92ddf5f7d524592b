import { DiffPreview } from './diffs.schemas.js';
import { z } from 'zod';
import { Int, JobStatus, jobProgressFields, LogLine, Time } from './common.schemas.js';
import { Selection } from './backups.schemas.js';
import { ArchiveKeyFields } from './encryption.schemas.js';

const PointInTime = {
  name: z.string().optional(),
  dryRun: z.boolean().optional(),
  untilEvent: z.coerce.number().int().min(1).optional(),
  until: z.iso.datetime({ offset: true, message: 'until must be an ISO-8601 time like 2026-11-22T10:00:00Z' }).optional(),
};

/**
 * One strict object (so an unknown key is named in the 400) that takes exactly one source: a URL,
 * a stored backup, or a copy in a backup repository (`repository` and `key` together).
 */
export const RestoreBody = z
  .strictObject({
    url: z.string().min(1).optional(),
    backupId: z.string().min(1).optional(),
    repository: z.string().min(1).max(200).optional().describe('A backup repository by name (GET /api/repositories), with `key`'),
    key: z.string().min(1).max(1024).optional().describe('The key of a copy’s archive in `repository`: appvault/{app name}/{backup id}.zip (.zip.age when encrypted)'),
    ...PointInTime,
    ...ArchiveKeyFields,
  })
  .refine((body) => (body.repository === undefined) === (body.key === undefined), { message: 'A repository source takes both repository and key' })
  .refine((body) => [body.url, body.backupId, body.repository].filter((given) => given !== undefined).length === 1, {
    message: 'Send { url }, { backupId } or { repository, key } (with optional name, untilEvent or until), or a multipart upload with a file field',
  });

/** POST /api/restore/{id}/resume: nothing, or the key of an encrypted archive the restore had not decrypted when it was interrupted. */
export const RestoreResumeBody = z.strictObject({ ...ArchiveKeyFields });

/** The text fields of a multipart restore, which come as text. */
export const RestoreUploadFields = z.strictObject({ ...PointInTime, ...ArchiveKeyFields, dryRun: z.enum(['true', 'false']).optional() });

/** The multipart form of a restore, for the document: the fields above, then the archive. */
export const RestoreUploadForm = z.strictObject({
  file: z.string().meta({ contentMediaType: 'application/octet-stream', description: 'The file, streamed' }),
  name: z.string().optional(),
  untilEvent: z.string().regex(/^\d+$/).optional(),
  until: Time.optional(),
  identity: ArchiveKeyFields.identity,
  passphrase: ArchiveKeyFields.passphrase,
});

/** `?dryRun=true` on a multipart restore: a dry run that never waits for a running restore. */
export const RestoreQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() });

export const Restore = z.strictObject({
  id: z.string(),
  status: JobStatus,
  source: z.string(),
  name: z.string().nullable(),
  appId: z.string().nullable(),
  created: Time,
  started: Time.nullable(),
  completed: Time.nullable(),
  eventCount: Int,
  include: Selection.nullable().describe('The selection of a partial archive, once the archive is checked; null for a whole app'),
  partial: z.boolean(),
  restoredEvents: Int,
  restoredAssets: Int,
  log: z.array(LogLine),
  error: z.string().nullable(),
  ...jobProgressFields,
});
export type Restore = z.infer<typeof Restore>;

/** A restore's dry run: what the restore would do, every check run, nothing written. */
export const RestorePreflight = z.strictObject({
  dryRun: z.literal(true),
  valid: z.boolean().describe('True when every check a restore makes passed and the name is free'),
  error: z.string().nullable().describe('Why the archive (or its source) would fail the restore'),
  source: z.string(),
  sizeBytes: Int.nullable(),
  encrypted: z.boolean().nullable().describe('The archive was encrypted (age) and opened with the key given or the installation’s own; null when it could not be fetched'),
  name: z.strictObject({ value: z.string(), available: z.boolean(), reason: z.string().nullable() }).nullable(),
  app: z.strictObject({ id: z.string(), name: z.string() }).nullable(),
  archive: z.strictObject({ created: Time, formatVersion: Int, firstEventAt: Time.nullable(), lastEventAt: Time.nullable() }).nullable(),
  events: z.strictObject({ inArchive: Int, toRestore: Int }).nullable(),
  files: Int.nullable(),
  users: z.strictObject({ mapped: z.array(z.string()), created: z.array(z.string()) }).nullable(),
  counts: z
    .strictObject({
      events: Int,
      eventFiles: Int,
      assets: Int,
      users: Int,
      missing: Int,
      streams: z.record(z.string(), Int),
      types: z.record(z.string(), Int),
      firstEventAt: Time.nullable(),
      lastEventAt: Time.nullable(),
    })
    .nullable(),
  partial: z.boolean().nullable(),
  include: Selection.nullable(),
  notes: z.array(z.string()).describe('What the restore would log about the events, such as dangling references'),
  missing: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
  warnings: z.array(z.string()),
  diff: DiffPreview.nullable().describe('What differs from the archive (up to `untilEvent` or `until`) to the app it was taken from as this installation has it now; null when this installation lacks that app, or the archive is partial or fails a check'),
});
export type RestorePreflight = z.infer<typeof RestorePreflight>;
