import { z } from 'zod';
import { entityId, NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { ASSET_CHOICES } from './api-values.js';
import { Int, JobStatus, jobProgressFields, Time } from './common.schemas.js';
import { Encryption, EncryptionBody } from './encryption.schemas.js';


/** Beyond these a selection is no longer "a few things": back up the whole app instead. */
export const MAX_SELECTED_SCHEMAS = 100;
export const MAX_SELECTED_CONTENTS = 10_000;

/**
 * What a partial backup holds, as a request gives it: `null` or absent means all of that kind.
 * `contents` narrows the selected schemas' contents to the listed ids.
 */
export const BackupIncludeBody = z
  .strictObject({
    schemas: z
      .array(z.string().max(NAME_MAX).regex(NAME_PATTERN, 'must be schema names (lowercase letters, digits and single dashes)'))
      .min(1, 'must name at least one schema (or be null for all)')
      .max(MAX_SELECTED_SCHEMAS, `may name at most ${MAX_SELECTED_SCHEMAS} schemas`)
      .nullable()
      .optional()
      .describe('Names of the schemas to back up; null or absent: every schema'),
    contents: z
      .array(entityId())
      .min(1, 'must list at least one content id (or be null for all)')
      .max(MAX_SELECTED_CONTENTS, `may list at most ${MAX_SELECTED_CONTENTS} content ids`)
      .nullable()
      .optional()
      .describe('Ids of the contents to back up, within the selected schemas; null or absent: all of their contents'),
    assets: z.enum(ASSET_CHOICES, `must be one of ${ASSET_CHOICES.join(', ')}`).optional().describe('Which assets: all (default), those the selected contents reference, or none'),
    credentials: z
      .boolean()
      .optional()
      .describe('Also the API key hashes of the users the archive names, so a restore keeps them signed in (admins only, encrypted backups only; not in policies)'),
  })
  .describe('What a partial backup holds; absent: the whole app');
export type BackupIncludeInput = z.infer<typeof BackupIncludeBody>;

/** A backup goes to at most this many repositories: "a few", each read from the local archive at once. */
export const MAX_BACKUP_REPOSITORIES = 4;

/** The repositories a backup or a policy writes to, by name; absent: `["local"]`. */
export const RepositoryNames = z
  .array(z.string().max(NAME_MAX).regex(NAME_PATTERN, 'must be repository names (lowercase letters, digits and single dashes)'))
  .min(1, 'must name at least one repository (or be absent for "local")')
  .max(MAX_BACKUP_REPOSITORIES, `may name at most ${MAX_BACKUP_REPOSITORIES} repositories`)
  .refine((names) => new Set(names).size === names.length, { message: 'names a repository twice' })
  .describe('Names of the repositories to keep a copy in (`local` is the installation’s own store); absent: ["local"]');

/** `true`: from the app's latest Completed backup of the whole app; `{ base }`: from that backup. */
export const IncrementalBody = z
  .union([z.literal(true), z.strictObject({ base: entityId().describe('The backup to continue (Completed, of the whole app, of this app)') })], {
    error: 'must be true (continue the app’s latest Completed backup) or { "base": "<backup id>" }',
  })
  .describe(
    'Hold only the events since a base backup and the file versions they introduce (docs/backup-format.md); a full backup is taken instead when the app has none or the chain reached its bound (MAX_INCREMENTAL_CHAIN, MAX_INCREMENTAL_CHAIN_DAYS), and its warnings say so',
  );

/** A backup holds the whole app (or its selection) on its own, or only what changed since its base. */
export const BACKUP_KINDS = ['full', 'incremental'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

/** An incremental backup's base in detail, as served in `baseArchive` (`base` is its id alone, as the contract words it). */
export const BackupBase = z.strictObject({
  id: z.string(),
  sha256: z.string().describe('SHA-256 of the base archive as stored (of the `.zip.age` file when it is encrypted)'),
  position: Int.describe('The store position the base ends at: this backup holds the events after it'),
  events: Int.describe('Events in the chain up to and including the base'),
});

export const CreateBackupBody = z.strictObject({
  label: z.string().trim().max(200).check(singleLine()).optional(),
  include: BackupIncludeBody.optional(),
  repositories: RepositoryNames.optional(),
  encryption: EncryptionBody.optional(),
  incremental: IncrementalBody.optional(),
});

/** `POST …/backups/{id}/verify`: `readData` reads every copy whole and hashes it; otherwise the stores' own records are checked. */
export const VerifyBackupBody = z.strictObject({ readData: z.boolean().optional().describe('Read every copy whole and hash it (slow, costs a download per copy)') });


/** A partial backup's selection as stored and served: every key present. */
export const Selection = z.strictObject({ schemas: z.array(z.string()).nullable(), contents: z.array(z.string()).nullable(), assets: z.enum(ASSET_CHOICES) });
export type Selection = z.infer<typeof Selection>;

const BACKUP_TRIGGERS = ['manual', 'scheduled', 'safety'] as const;

/** One copy of a backup's archive in one repository, as the backup records it. */
export const BackupCopy = z.strictObject({
  repository: z.string(),
  key: z.string().describe('Where the archive lies in the repository'),
  sizeBytes: Int,
  sha256: z.string().nullable(),
  written: Time.nullable().describe('When the copy was written and checked against the archive; null when it could not be written'),
  verified: Time.nullable().describe('When the copy was last found whole (after writing, or by verify)'),
  lockedUntil: Time.nullable().describe('The store refuses to delete it before then (S3 Object Lock), as the store reports it'),
  error: z.string().nullable().describe('Why the copy could not be written, or what the last verify found wrong; null when it is fine'),
});
export type BackupCopy = z.infer<typeof BackupCopy>;

/** What a delete left: copies in append-only repositories stay there (AppVault never deletes in one). */
export const DeletedBackup = z.strictObject({
  id: z.string(),
  kept: z.array(z.strictObject({ repository: z.string(), key: z.string(), reason: z.string() })),
});
export type DeletedBackup = z.infer<typeof DeletedBackup>;

export const Backup = z.strictObject({
  id: z.string(),
  appId: z.string(),
  appName: z.string(),
  label: z.string(),
  trigger: z.enum(BACKUP_TRIGGERS).describe('Who started it: a person, the app’s backup policy, or a rollback (its safety backup)'),
  include: Selection.nullable().describe('What a partial backup holds; null for the whole app'),
  partial: z.boolean(),
  status: JobStatus,
  created: Time,
  started: Time.nullable(),
  completed: Time.nullable(),
  eventCount: Int,
  assetCount: Int,
  userCount: Int,
  sizeBytes: Int,
  sha256: z.string().nullable(),
  error: z.string().nullable(),
  warnings: z.array(z.string()),
  position: Int.optional().describe('The event store position the app was taken at, once known'),
  repositories: z.array(z.string()).describe('The repositories asked for'),
  copies: z.array(BackupCopy).describe('One per repository asked for once the backup has run (and `local` when the archive was kept there because another copy failed)'),
  encrypted: z.boolean().describe('The archive is encrypted in the age format (`….zip.age`); `sizeBytes` and `sha256` are of the encrypted file'),
  encryption: Encryption.nullable().describe('Who can open it: its recipients, or a passphrase; null for a plain zip'),
  credentials: z.boolean().describe('It holds the API key hashes of the users it names (credentials.json, inside the encryption)'),
  kind: z.enum(BACKUP_KINDS).describe('`incremental`: it holds only the events since its base (and the file versions and users they name), and restoring it replays its chain; `full`: it holds the whole app (or, when `partial`, its selection)'),
  incremental: z.boolean().describe('The same as `kind: "incremental"` (kept for clients written before `kind`)'),
  base: z.string().nullable().describe('An incremental backup’s base: the id of the backup it continues; null for a full backup'),
  baseArchive: BackupBase.nullable().describe('An incremental backup’s base in detail: its id, the SHA-256 of its archive and the events the chain holds up to it; null for a full backup'),
  chain: z
    .strictObject({ full: z.string().describe('The full backup the chain starts from'), fullCreated: Time, depth: Int.describe('Increments from the full backup to this one, this one included') })
    .nullable()
    .describe('An incremental backup’s place in its chain; null for a full backup'),
  passphrase: z.string().optional().describe('Only in the answer that started a backup with `encryption: { passphrase: true }`: the passphrase, shown this once and kept nowhere'),
  ...jobProgressFields,
});
export type Backup = z.infer<typeof Backup>;
