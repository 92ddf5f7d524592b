import type { LockMode, RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';

/**
 * The RepositoryRegistry port: the repositories an admin configured, by name, opened as
 * RepositoryStores. Backups write their copies through it, restores and downloads read them, and
 * the repositories API manages what it holds. The installation's own store is always there as the
 * repository named `local`: it cannot be changed or removed, and a backup that names no repository
 * goes there.
 */

export const LOCAL_REPOSITORY = 'local';

export type RepositoryType = 'local' | 'filesystem' | 's3';

/** A repository as the rest of AppVault sees it: what it is, never its credentials. */
export interface RepositoryDefinition {
  id: string;
  /** Unique; what backups, policies and restore sources name. */
  name: string;
  type: RepositoryType;
  /** Where it is, for messages and the API (a folder, `s3://bucket/prefix at endpoint`). */
  location: string;
  /** Every copy written there is locked for `days` in `mode` (S3 Object Lock). */
  objectLock: { mode: LockMode; days: number } | null;
  /** AppVault never deletes there (an operator's own tool prunes). */
  appendOnly: boolean;
}

export interface OpenRepository {
  definition: RepositoryDefinition;
  /** Opened once and shared; closed by the registry when the repository is changed or removed. */
  store: RepositoryStore;
}

export class UnknownRepositoryError extends Error {
  constructor(readonly repository: string) {
    super(`There is no repository named "${repository}"; GET /api/repositories lists them (admins)`);
    this.name = 'UnknownRepositoryError';
  }
}

export abstract class RepositoryRegistry {
  /** By name; UnknownRepositoryError when there is none. */
  abstract open(name: string): Promise<OpenRepository>;
  abstract definitions(): Promise<RepositoryDefinition[]>;
}
