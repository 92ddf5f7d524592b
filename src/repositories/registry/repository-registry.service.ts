import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { type RepositoryStore, RepositoryStoreError } from '../../infrastructure/repository-store/repository-store.port.js';
import { REPOSITORY_STORES, type RepositoryStores } from '../../infrastructure/repository-store/repository-stores.js';
import { resolveS3Credentials, type S3Credentials } from '../../infrastructure/repository-store/s3-repository-config.js';
import { LOCAL_REPOSITORY, type OpenRepository, type RepositoryDefinition, RepositoryRegistry, UnknownRepositoryError } from '../repository-registry.port.js';
import {
  CREDENTIALS_COLLECTION,
  definitionOf,
  REPOSITORIES_COLLECTION,
  type RepositoryRecord,
  type StoredCredentialsDoc,
} from './repository-record.js';

interface Opened {
  revision: number;
  repository: Promise<OpenRepository>;
}

/**
 * The RepositoryRegistry: definitions from the read store, stores opened once and shared. A store
 * is reopened when its definition's revision moved on (a change made here or by another process
 * of the installation) and closed when its repository is changed or removed, and at shutdown.
 * `local` is not stored: it is always there, the installation's own blob store.
 */
@Injectable()
export class RepositoryRegistryService extends RepositoryRegistry implements OnApplicationShutdown {
  readonly records: ReadCollection<RepositoryRecord>;
  readonly credentials: ReadCollection<StoredCredentialsDoc>;
  private readonly opened = new Map<string, Opened>();
  private readonly logger = new Logger('Repositories');

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    @Inject(REPOSITORY_STORES) private readonly stores: RepositoryStores,
  ) {
    super();
    this.records = store.collection<RepositoryRecord>(REPOSITORIES_COLLECTION, { key: (record) => record.name, indexes: ['id'] });
    this.credentials = store.collection<StoredCredentialsDoc>(CREDENTIALS_COLLECTION);
  }

  /** `local`, always there: the blob store every backup's archive is written to first. */
  localDefinition(): RepositoryDefinition {
    return { id: LOCAL_REPOSITORY, name: LOCAL_REPOSITORY, type: 'local', location: this.stores.local().location, objectLock: null, appendOnly: false };
  }

  async definitions(): Promise<RepositoryDefinition[]> {
    return [this.localDefinition(), ...(await this.allRecords()).map(definitionOf)];
  }

  /** Every stored repository, by name. */
  async allRecords(): Promise<RepositoryRecord[]> {
    const records: RepositoryRecord[] = [];
    for await (const record of this.records.iterate({})) records.push(record);
    return records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A stored repository by its name or its id. */
  async find(nameOrId: string): Promise<RepositoryRecord | undefined> {
    return (await this.records.get(nameOrId)) ?? (await this.records.findOne({ id: nameOrId }));
  }

  async open(name: string): Promise<OpenRepository> {
    if (name === LOCAL_REPOSITORY) return { definition: this.localDefinition(), store: this.stores.local() };
    const record = await this.records.get(name);
    if (!record) {
      await this.forget(name);
      throw new UnknownRepositoryError(name);
    }
    const current = this.opened.get(name);
    if (current?.revision === record.revision) return current.repository;
    if (current) await this.forget(name);
    const repository = this.openRecord(record).then((store) => ({ definition: definitionOf(record), store }));
    const entry = { revision: record.revision, repository };
    this.opened.set(name, entry);
    // A store that cannot be opened (credentials missing) is not kept: the next call tries again.
    repository.catch(() => {
      if (this.opened.get(name) === entry) this.opened.delete(name);
    });
    return repository;
  }

  /** A store for a definition that is not (or not yet) stored: what create and update check before saving. */
  async openUnsaved(record: RepositoryRecord, credentials?: S3Credentials): Promise<RepositoryStore> {
    return this.openRecord(record, credentials);
  }

  /** Closes the repository's open store, if any: after a change or removal. */
  async forget(name: string): Promise<void> {
    const entry = this.opened.get(name);
    if (!entry) return;
    this.opened.delete(name);
    await this.closeQuietly(name, entry);
  }

  async onApplicationShutdown(): Promise<void> {
    const entries = [...this.opened.entries()];
    this.opened.clear();
    await Promise.all(entries.map(([name, entry]) => this.closeQuietly(name, entry)));
  }

  private async openRecord(record: RepositoryRecord, given?: S3Credentials): Promise<RepositoryStore> {
    if (record.type === 'filesystem') return this.stores.filesystem(record.path!, { appendOnly: record.appendOnly });
    const s3 = record.s3!;
    const config = { ...s3.config, ...(record.objectLock ? { objectLock: record.objectLock } : {}) };
    return this.stores.s3(config, given ?? (await this.credentialsOf(record)));
  }

  /** The values the record's credential source names; errors name the variable, the file or the repository, never a value. */
  private async credentialsOf(record: RepositoryRecord): Promise<S3Credentials | undefined> {
    const source = record.s3!.credentials;
    switch (source.kind) {
      case 'default':
        return undefined;
      case 'environment':
        return resolveS3Credentials({ accessKeyIdEnv: source.accessKeyIdEnv, secretAccessKeyEnv: source.secretAccessKeyEnv });
      case 'file':
        return resolveS3Credentials({ secretsFile: source.secretsFile });
      case 'stored': {
        const stored = await this.credentials.get(record.id);
        if (!stored) {
          throw new RepositoryStoreError('config', `The repository "${record.name}" has no stored credentials any more; set them again (PUT /api/repositories/${record.name})`);
        }
        return { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey };
      }
    }
  }

  private async closeQuietly(name: string, entry: Opened): Promise<void> {
    try {
      await (await entry.repository).store.close();
    } catch (error) {
      // Opening failed (already said where it was used) or closing did: neither keeps anything open.
      this.logger.debug(`Repository "${name}": closing its store: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
