import { z } from 'zod';
import { DIFF_PAGE_DEFAULT, DIFF_PAGE_MAX, DIFF_VALUE_MAX } from './api-values.js';
import { Int, Time } from './common.schemas.js';
import { ArchiveKeyFields } from './encryption.schemas.js';
import { wholeNumber } from './paging.schemas.js';

const against = z.string().min(1, 'must be a backup id or "live"').max(100).describe('Another backup of this app (its id), or `live`: the app as it is now');
const cursor = z
  .string()
  .regex(/^\d{1,16}$/, 'must be the `next` a page of this diff answered')
  .describe('Where the page starts: the `next` of the page before (left out for the first)');

const snapshot = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be the `snapshot` an answer of this diff gave')
  .describe('Against `live`: the `snapshot` an earlier answer gave, to read (or wait for) that computation again; left out, the live app is read anew');

/** `GET …/backups/{id}/diff?against=&cursor=&limit=` (or `top=&skip=`, as the app's other lists page). */
export const DiffQuery = z.object({
  against,
  snapshot: snapshot.optional(),
  cursor: cursor.optional(),
  limit: wholeNumber(1, DIFF_PAGE_MAX).optional().describe(`Changes per page, 1 to ${DIFF_PAGE_MAX} (default ${DIFF_PAGE_DEFAULT})`),
  top: wholeNumber(1, DIFF_PAGE_MAX).optional().describe('The same as `limit`'),
  skip: wholeNumber(0).optional().describe('The same as `cursor`: how many changes come before the page'),
});
export type DiffQuery = z.infer<typeof DiffQuery>;

/** `POST …/backups/{id}/diff`: the same, with the key that opens encrypted backups in the body (never in a URL). */
export const DiffBody = z.strictObject({
  against,
  snapshot: snapshot.optional(),
  cursor: cursor.optional(),
  limit: z.number().int('must be a whole number').min(1).max(DIFF_PAGE_MAX).optional().describe(`Changes per page, 1 to ${DIFF_PAGE_MAX} (default ${DIFF_PAGE_DEFAULT})`),
  top: z.number().int('must be a whole number').min(1).max(DIFF_PAGE_MAX).optional().describe('The same as `limit`'),
  skip: z.number().int('must be a whole number').min(0).optional().describe('The same as `cursor`: how many changes come before the page'),
  identity: ArchiveKeyFields.identity,
  passphrase: ArchiveKeyFields.passphrase,
});
export type DiffBody = z.infer<typeof DiffBody>;

/** A value as the diff shows it: its JSON text, cut to DIFF_VALUE_MAX characters. */
export const DiffValue = z.strictObject({
  json: z.string().describe(`The value as JSON, at most ${DIFF_VALUE_MAX} characters`),
  truncated: z.boolean().describe('True when `json` was cut; `length` is the whole text’s'),
  length: Int,
});
export type DiffValue = z.infer<typeof DiffValue>;

const DiffChange = z.enum(['added', 'removed', 'changed']);

export const DiffItem = z.strictObject({
  kind: z.string().describe('`schemas`, `contents`, `assets` or `contributors`'),
  id: z.string().describe('The schema’s, content’s or asset’s id; the contributor’s user id'),
  change: DiffChange.describe('`added`: only in `against`; `removed`: only in the backup; `changed`: in both, different'),
  label: z.string().describe('A schema’s name, an asset’s file name (as `against` has it; the backup’s for a removed one), else the id'),
  labelBefore: z.string().nullable().describe('The backup’s label when it differs'),
  properties: z
    .array(z.strictObject({ name: z.string(), change: DiffChange, before: DiffValue.nullable(), after: DiffValue.nullable() }))
    .describe('Each property that differs: a schema’s `name` and `fields.<field>`; a content’s `schemaId`, `status` and `data.<field>`; an asset’s file (`fileName`, `fileVersion`…); a contributor’s `role`'),
  fields: z.array(z.string()).describe('The names of the entity’s own fields among `properties`: a content’s data fields, a schema’s fields; empty for other kinds'),
  versionsAdded: z.array(z.strictObject({ version: z.string(), value: DiffValue })).describe('File versions (with their SHA-256) `against` has and the backup lacks'),
  versionsRemoved: z.array(z.strictObject({ version: z.string(), value: DiffValue })).describe('File versions the backup has and `against` lacks'),
});
export type DiffItem = z.infer<typeof DiffItem>;

const ChangeCount = z.strictObject({ added: Int, removed: Int, changed: Int });
const DiffSide = z.strictObject({
  backupId: z.string().nullable().describe('null for the live app'),
  appId: z.string(),
  appName: z.string(),
  created: Time.nullable().describe('When the backup was made; null for the live app'),
  events: Int,
});

/** One kind's changes of the page: the page's items of that kind, by change. */
const KindChanges = z
  .strictObject({ added: z.array(DiffItem), removed: z.array(DiffItem), changed: z.array(DiffItem) })
  .describe('This page’s changes of the kind, by change (the same changes `items` lists)');

/** One page of what differs between a backup and another backup or the live app. */
export const BackupDiff = z.strictObject({
  from: DiffSide,
  to: DiffSide,
  summary: z.record(z.string(), ChangeCount).describe('Per kind, how many were added, removed and changed (every kind listed, zeros included)'),
  total: Int.describe('How many changes in all'),
  items: z.array(DiffItem).describe('The changes, by kind then id'),
  schemas: KindChanges,
  contents: KindChanges,
  assets: KindChanges,
  contributors: KindChanges,
  next: z.string().nullable().describe('The cursor (and `skip`) of the next page; null on the last'),
  snapshot: z.string().nullable().describe('Against `live`: this computation’s snapshot, to pass with the next page’s request so that every page reads the app as this one did; null otherwise'),
});
export type BackupDiff = z.infer<typeof BackupDiff>;

/** 202: the diff was not finished within DIFF_WAIT_SECONDS; it goes on, and the same request asked again reads it. */
export const DiffComputing = z.strictObject({
  status: z.literal('Computing'),
  since: Time.describe('When the computation started'),
  retryAfterSeconds: Int.describe('When to ask again (also the `Retry-After` header)'),
  snapshot: z.string().nullable().describe('Against `live`: pass it with the request asked again, or a new computation starts'),
});
export type DiffComputing = z.infer<typeof DiffComputing>;

/** In the dry runs of rollbacks and restores: the counts of the whole diff against the live app, and its first changes. */
export const DiffPreview = z.strictObject({
  summary: z.record(z.string(), ChangeCount),
  total: Int,
  items: z.array(DiffItem).describe('The first changes, by kind then id (at most 20)'),
  next: z.string().nullable().describe('Not null when there are more changes than `items` shows'),
});
export type DiffPreview = z.infer<typeof DiffPreview>;
