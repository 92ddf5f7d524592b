import { z } from 'zod';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
import { Int, Time } from './common.schemas.js';

/**
 * Backup repositories (admin): where copies of backups go besides the installation's own store.
 * The server checks the S3 settings further (bucket and endpoint rules, defaults) and the folder
 * on disk; credentials sent here are stored apart and never answered.
 */

export const RepositoryName = z
  .string()
  .trim()
  .max(NAME_MAX)
  .regex(NAME_PATTERN, `must be a repository name: lowercase letters, digits and single dashes, at most ${NAME_MAX} characters`)
  .describe('Unique; what backups, policies and restore sources name');

export const ObjectLock = z.strictObject({
  mode: z.enum(['GOVERNANCE', 'COMPLIANCE']).describe('GOVERNANCE: an operator with the bypass permission may lift a lock; COMPLIANCE: nobody can'),
  days: Int.min(1).max(36_500).describe('How long each copy is locked'),
});

const envName = z.string().trim().max(200).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, underscores)');
// Never quoted back in a message: a value may be the secret itself.
const secret = z.string().min(1, 'must not be empty').max(1024);

export const S3Settings = z.strictObject({
  endpoint: z.string().trim().max(2000).check(singleLine()).optional().describe('`https://s3.example.com`; leave out for AWS itself'),
  region: z.string().trim().max(64).check(singleLine()).optional().describe('Default us-east-1'),
  bucket: z.string().trim().max(63).check(singleLine()),
  prefix: z.string().trim().max(1000).check(singleLine()).optional().describe('A key prefix, so one bucket can hold several repositories'),
  forcePathStyle: z.boolean().optional().describe('Path-style URLs; default true with an endpoint, false for AWS'),
  storageClass: z.string().trim().max(64).check(singleLine()).optional(),
  accessKeyIdEnv: envName.optional().describe('Credentials from the environment: the variable holding the access key id…'),
  secretAccessKeyEnv: envName.optional().describe('…and the one holding the secret access key'),
  secretsFile: z.string().trim().max(4096).check(singleLine()).optional().describe('Credentials from a file (mode 0600, e.g. a Docker secret) holding `{"accessKeyId": "…", "secretAccessKey": "…"}`'),
  accessKeyId: secret.optional().describe('Credentials stored by AppVault (apart from the definition; never answered). Prefer the environment or a file'),
  secretAccessKey: secret.optional(),
});

const settings = {
  path: z.string().trim().max(4096).check(singleLine()).optional().describe('filesystem: an absolute path to an existing folder outside DATA_DIR'),
  s3: S3Settings.optional(),
  objectLock: ObjectLock.nullable().optional().describe('s3 only: lock every copy (the bucket must have Object Lock enabled)'),
  appendOnly: z.boolean().optional().describe('filesystem only: AppVault never deletes there'),
};

export const CreateRepositoryBody = z.strictObject({ name: RepositoryName, type: z.enum(['filesystem', 's3']), ...settings });

/**
 * The whole definition again; name and type cannot change (backups and policies name the
 * repository). S3 credentials left out keep the ones it has.
 */
export const UpdateRepositoryBody = z.strictObject({ name: RepositoryName.optional(), type: z.enum(['filesystem', 's3']).optional(), ...settings });

export const CredentialKind = z.enum(['stored', 'environment', 'file', 'default']);

export const Repository = z.strictObject({
  id: z.string(),
  name: z.string(),
  type: z.enum(['local', 'filesystem', 's3']),
  location: z.string().describe('Where it is, in words'),
  path: z.string().nullable(),
  s3: z
    .strictObject({
      endpoint: z.string().nullable(),
      region: z.string(),
      bucket: z.string(),
      prefix: z.string(),
      forcePathStyle: z.boolean(),
      storageClass: z.string().nullable(),
      accessKeyIdEnv: z.string().nullable(),
      secretAccessKeyEnv: z.string().nullable(),
      secretsFile: z.string().nullable(),
    })
    .nullable(),
  credentials: CredentialKind.nullable().describe('s3: where its credentials come from (never their values); `default` is the AWS SDK’s own chain'),
  objectLock: ObjectLock.nullable(),
  appendOnly: z.boolean(),
  created: Time.nullable(),
  updated: Time.nullable(),
});
export type Repository = z.infer<typeof Repository>;

export const RepositoryList = z.strictObject({ items: z.array(Repository) });

export const RepositoryCheck = z.strictObject({
  ok: z.boolean(),
  steps: z.array(z.strictObject({ step: z.string(), ok: z.boolean(), message: z.string() })),
});
export type RepositoryCheck = z.infer<typeof RepositoryCheck>;

export const RepositoryBackup = z.strictObject({
  key: z.string().describe('The archive’s key in the repository: a restore source names it'),
  installation: z.string().nullable().describe('The installation that wrote it; null when its manifest cannot be read'),
  own: z.boolean().describe('Written by this installation'),
  backup: z
    .strictObject({
      id: z.string(),
      appId: z.string(),
      appName: z.string(),
      label: z.string(),
      created: z.string(),
      completed: z.string(),
      partial: z.boolean(),
      eventCount: Int,
      assetCount: Int,
      userCount: Int,
    })
    .nullable(),
  sizeBytes: Int.nullable(),
  sha256: z.string().nullable(),
  encrypted: z.boolean().nullable().describe('The archive is encrypted (age, `….zip.age`): a restore of it needs its identity or passphrase, unless it was encrypted to this installation; null when the manifest cannot be read'),
  error: z.string().nullable().describe('Why this entry cannot be used (its manifest cannot be read, is malformed or too large)'),
});
export type RepositoryBackup = z.infer<typeof RepositoryBackup>;

export const RepositoryBackupList = z.strictObject({
  items: z.array(RepositoryBackup),
  truncated: z.boolean().describe('More entries than one listing shows'),
});
