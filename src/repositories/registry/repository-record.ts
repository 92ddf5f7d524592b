import type { LockMode } from '../../infrastructure/repository-store/repository-store.port.js';
import type { S3RepositoryConfig } from '../../infrastructure/repository-store/s3-repository-config.js';
import type { RepositoryDefinition } from '../repository-registry.port.js';

/**
 * Where an S3 repository's credentials come from. Only `stored` has values inside AppVault, in a
 * collection of their own (StoredCredentials), never in the definition; the others are references
 * read when the store is opened.
 */
export type CredentialSource =
  | { kind: 'environment'; accessKeyIdEnv: string; secretAccessKeyEnv: string }
  | { kind: 'file'; secretsFile: string }
  | { kind: 'stored' }
  /** The AWS SDK's own chain: AWS_* variables, a shared profile, an instance or pod role. */
  | { kind: 'default' };

export type CredentialKind = CredentialSource['kind'];

/** An S3 repository's settings as stored: the adapter's config (its lock is the record's) and where its credentials are. */
export interface StoredS3Settings {
  config: Omit<S3RepositoryConfig, 'objectLock'>;
  credentials: CredentialSource;
}

/**
 * A repository an admin configured, as the read store keeps it: installation state in a collection
 * of its own (`repositories`, keyed by name so two processes cannot add one name twice), which no
 * projection owns and no rebuild touches.
 */
export interface RepositoryRecord {
  id: string;
  name: string;
  type: 'filesystem' | 's3';
  /** filesystem: the folder. */
  path: string | null;
  s3: StoredS3Settings | null;
  objectLock: { mode: LockMode; days: number } | null;
  appendOnly: boolean;
  /** Raised at every change: a process whose open store is of an older revision reopens it. */
  revision: number;
  created: string;
  createdBy: string;
  updated: string;
  updatedBy: string;
}

/** Credentials an admin sent in a request, by repository id: never served, logged, archived or copied into a job. */
export interface StoredCredentialsDoc {
  id: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export const REPOSITORIES_COLLECTION = 'repositories';
export const CREDENTIALS_COLLECTION = 'repository_credentials';

export function locationOf(record: RepositoryRecord): string {
  if (record.type === 'filesystem') return `folder ${record.path ?? ''}`;
  const config = record.s3!.config;
  return `s3://${config.bucket}/${config.prefix} at ${config.endpoint ?? `AWS ${config.region}`}`;
}

export function definitionOf(record: RepositoryRecord): RepositoryDefinition {
  return { id: record.id, name: record.name, type: record.type, location: locationOf(record), objectLock: record.objectLock, appendOnly: record.appendOnly };
}
