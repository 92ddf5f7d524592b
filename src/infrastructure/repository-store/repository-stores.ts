import type { BlobStore } from '../blob-store/blob-store.port.js';
import { BlobRepositoryStore } from './blob-repository-store.adapter.js';
import { FilesystemRepositoryStore } from './filesystem-repository-store.adapter.js';
import type { RepositoryStore } from './repository-store.port.js';
import type { S3Credentials, S3RepositoryConfig } from './s3-repository-config.js';
import { S3RepositoryStore } from './s3-repository-store.adapter.js';

/**
 * Makes RepositoryStores, so that the repositories module opens them without knowing the adapters
 * (only infrastructure imports those). Provided by the InfrastructureModule as REPOSITORY_STORES.
 */
export interface RepositoryStores {
  /** The installation's own blob store as a repository (`local`); closing it leaves the blob store open. */
  local(): RepositoryStore;
  filesystem(path: string, options: { appendOnly: boolean }): RepositoryStore;
  /** Undefined credentials: the AWS SDK's default chain (AWS_* variables, a shared profile, an instance role). */
  s3(config: S3RepositoryConfig, credentials: S3Credentials | undefined): RepositoryStore;
}

export const REPOSITORY_STORES = Symbol('REPOSITORY_STORES');

export class AdapterRepositoryStores implements RepositoryStores {
  private readonly own: RepositoryStore;

  constructor(blobs: BlobStore, where: string) {
    this.own = new BlobRepositoryStore(blobs, where);
  }

  local(): RepositoryStore {
    return this.own;
  }

  filesystem(path: string, options: { appendOnly: boolean }): RepositoryStore {
    return new FilesystemRepositoryStore(path, options);
  }

  s3(config: S3RepositoryConfig, credentials: S3Credentials | undefined): RepositoryStore {
    return new S3RepositoryStore(config, credentials);
  }
}
