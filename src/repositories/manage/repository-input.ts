import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { z } from 'zod';
import type { CreateRepositoryBody, UpdateRepositoryBody } from '../../contract/repositories.schemas.js';
import { type S3Credentials, s3RepositoryConfigSchema } from '../../infrastructure/repository-store/s3-repository-config.js';
import { invalid } from '../../platform/domain-errors.js';
import type { CredentialSource, RepositoryRecord, StoredS3Settings } from '../registry/repository-record.js';

export type RepositoryBody = z.output<typeof CreateRepositoryBody> | z.output<typeof UpdateRepositoryBody>;

/** What a request asks a repository to be, checked as far as can be without touching a disk or a bucket. */
export interface RepositorySettings {
  type: 'filesystem' | 's3';
  path: string | null;
  s3: StoredS3Settings | null;
  objectLock: RepositoryRecord['objectLock'];
  appendOnly: boolean;
  /** Credentials the request carried (`stored`): kept apart from the definition. */
  secrets?: S3Credentials;
}

const CREDENTIAL_FIELDS = ['accessKeyId', 'secretAccessKey', 'accessKeyIdEnv', 'secretAccessKeyEnv', 'secretsFile'] as const;

/**
 * The settings a create or an update asks for, or a 400 naming what is wrong. `current` is the
 * stored repository on an update: its name and type cannot change, and every field the request
 * leaves out keeps its stored value (`path`, `s3` as a whole, `objectLock`, `appendOnly`; within
 * `s3`, the credentials), so `{ "appendOnly": true }` changes only that. `objectLock: null`
 * removes a lock. Messages never quote a credential field's value.
 */
export function parseSettings(body: RepositoryBody, type: 'filesystem' | 's3', current?: RepositoryRecord): RepositorySettings {
  const problems: string[] = [];
  if (type === 'filesystem') {
    const path = body.path ?? current?.path ?? undefined;
    if (body.s3 !== undefined) problems.push('s3: only for repositories of type s3');
    if (body.objectLock) problems.push('objectLock: a folder cannot lock a copy; mark the repository appendOnly, or use an S3 bucket with Object Lock');
    if (path === undefined || path === '') problems.push('path: is required for a filesystem repository (an absolute path to an existing folder)');
    else if (!isAbsolute(path)) problems.push(`path: must be absolute (like /mnt/nas/appvault), not ${JSON.stringify(path)}`);
    if (problems.length > 0) throw invalid(problems.join('; '));
    return { type, path: resolve(path!), s3: null, objectLock: null, appendOnly: body.appendOnly ?? current?.appendOnly ?? false };
  }
  if (body.path !== undefined) problems.push('path: only for repositories of type filesystem');
  if (body.appendOnly) problems.push('appendOnly: only for filesystem repositories; an S3 bucket protects its copies with objectLock');
  if (body.s3 === undefined && !current?.s3) problems.push('s3: is required for an s3 repository ({ endpoint, region, bucket, prefix?, forcePathStyle? } and where its credentials come from)');
  if (problems.length > 0) throw invalid(problems.join('; '));
  const objectLock = body.objectLock === undefined ? (current?.objectLock ?? null) : body.objectLock;
  // Left out of an update: the bucket settings as stored (already checked when they were saved), credentials included.
  if (body.s3 === undefined) return { type, path: null, s3: current!.s3!, objectLock, appendOnly: false };
  const s3 = body.s3;
  // Where the bucket is goes to the adapter's schema; the credential fields never do.
  const where = Object.fromEntries(Object.entries(s3).filter(([field]) => !(CREDENTIAL_FIELDS as readonly string[]).includes(field)));
  const parsed = s3RepositoryConfigSchema.safeParse(where);
  if (!parsed.success) throw invalid(parsed.error.issues.map((issue) => `s3.${issue.path.join('.') || '(settings)'}: ${issue.message}`).join('; '));
  const { objectLock: _lock, ...config } = parsed.data;
  const credentials = credentialSource(s3, current);
  return {
    type,
    path: null,
    s3: { config, credentials: credentials.source },
    objectLock,
    appendOnly: false,
    ...(credentials.secrets ? { secrets: credentials.secrets } : {}),
  };
}

type S3Body = NonNullable<RepositoryBody['s3']>;

/** Exactly one source of credentials, or none (on an update: the current one; on a create: the SDK's default chain). */
function credentialSource(s3: S3Body, current: RepositoryRecord | undefined): { source: CredentialSource; secrets?: S3Credentials } {
  const given = CREDENTIAL_FIELDS.filter((field) => s3[field] !== undefined);
  const kinds = new Set(given.map((field) => (field === 'secretsFile' ? 'file' : field.endsWith('Env') ? 'environment' : 'stored')));
  if (kinds.size > 1) {
    throw invalid(`s3: give one source of credentials: accessKeyIdEnv and secretAccessKeyEnv (environment), secretsFile (a file), or accessKeyId and secretAccessKey (stored); this request gives ${given.join(', ')}`);
  }
  if (kinds.has('stored')) {
    if (s3.accessKeyId === undefined || s3.secretAccessKey === undefined) throw invalid('s3: accessKeyId and secretAccessKey go together: give both or neither');
    return { source: { kind: 'stored' }, secrets: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
  }
  if (kinds.has('environment')) {
    if (s3.accessKeyIdEnv === undefined || s3.secretAccessKeyEnv === undefined) throw invalid('s3: accessKeyIdEnv and secretAccessKeyEnv go together: name both variables or neither');
    return { source: { kind: 'environment', accessKeyIdEnv: s3.accessKeyIdEnv, secretAccessKeyEnv: s3.secretAccessKeyEnv } };
  }
  if (kinds.has('file')) {
    if (!isAbsolute(s3.secretsFile!)) throw invalid(`s3.secretsFile: must be an absolute path, not ${JSON.stringify(s3.secretsFile)}`);
    return { source: { kind: 'file', secretsFile: resolve(s3.secretsFile!) } };
  }
  return { source: current?.s3?.credentials ?? { kind: 'default' } };
}

/** Why a folder cannot be a repository because it is the data folder or inside it; undefined when it is elsewhere. Both paths real (symlinks resolved). */
export function insideDataDir(folder: string, dataDir: string): string | undefined {
  const rel = relative(dataDir, folder);
  if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))) {
    return `path: ${folder} is ${rel === '' ? 'the data folder' : 'inside the data folder'} (${dataDir}): a copy there is lost with the installation it should protect; choose a folder on another disk or a mounted share`;
  }
  return undefined;
}
