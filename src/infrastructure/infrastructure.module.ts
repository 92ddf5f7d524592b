import { join } from 'node:path';
import { Global, Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port.js';
import { NAME_INDEX, type NameIndex } from './name-index/name-index.port.js';
import { READ_STORE, type ReadStore } from './read-store/read-store.port.js';
import { SqliteEventStore } from './event-store/sqlite-event-store.adapter.js';
import { SqliteReadStore } from './read-store/sqlite-read-store.adapter.js';
import { SqliteNameIndex } from './name-index/sqlite-name-index.adapter.js';
import { BLOB_STORE, type BlobStore } from './blob-store/blob-store.port.js';
import { FilesystemBlobStore } from './blob-store/filesystem-blob-store.adapter.js';
import { connectWithRetry } from './store-connect.js';
import { StoreMaintenance } from './event-store/store-maintenance.js';
import { INSTANCE_ID } from '../platform/instance.js';
import { AdapterRepositoryStores, REPOSITORY_STORES, type RepositoryStores } from './repository-store/repository-stores.js';

/**
 * The one place adapters are chosen, from config: EVENTSTORE_URL → EventStoreDB, MONGO_URL →
 * MongoDB read models (and GridFS), neither → SQLite files under DATA_DIR. Domain modules only
 * ever see the ports.
 */
@Global()
@Module({
  providers: [
    {
      provide: EVENT_STORE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<EventStore> => {
        if (config.eventStoreUrl) {
          const { EventStoreDbEventStore } = await import('./event-store/eventstoredb-event-store.adapter.js');
          const url = config.eventStoreUrl;
          return connectWithRetry('EVENTSTORE_URL', config.storeConnectTimeoutMs, () => EventStoreDbEventStore.connect(url, { maxAppendBytes: config.eventStoreMaxAppendBytes }));
        }
        return new SqliteEventStore(join(config.dataDir, 'events.db'));
      },
    },
    {
      provide: READ_STORE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<ReadStore> => {
        if (config.mongoUrl) {
          const { MongoReadStore } = await import('./read-store/mongo-read-store.adapter.js');
          const url = config.mongoUrl;
          return connectWithRetry('MONGO_URL', config.storeConnectTimeoutMs, () => MongoReadStore.connect(url));
        }
        return new SqliteReadStore(join(config.dataDir, 'read.db'));
      },
    },
    {
      provide: NAME_INDEX,
      inject: [READ_STORE, APP_CONFIG],
      useFactory: async (readStore: ReadStore, config: AppConfig): Promise<NameIndex> => {
        if (readStore instanceof SqliteReadStore) {
          const index = SqliteNameIndex.open(join(config.dataDir, 'claims.db'));
          index.importLegacy(readStore.database);
          // The server holds the DATA_DIR lock by now: reservations in its files are a dead process's.
          index.forgetReservations();
          return index;
        }
        const { MongoNameIndex } = await import('./name-index/mongo-name-index.adapter.js');
        const { MongoReadStore } = await import('./read-store/mongo-read-store.adapter.js');
        if (!(readStore instanceof MongoReadStore)) throw new Error('Unknown read store kind');
        return new MongoNameIndex(readStore.connection);
      },
    },
    {
      provide: BLOB_STORE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<BlobStore> => {
        if (config.mongoUrl) {
          const { GridFsBlobStore } = await import('./blob-store/gridfs-blob-store.adapter.js');
          const url = config.mongoUrl;
          return connectWithRetry('MONGO_URL', config.storeConnectTimeoutMs, () => GridFsBlobStore.connect(url));
        }
        return new FilesystemBlobStore(join(config.dataDir, 'blobs'));
      },
    },
    {
      // Backup repositories (folders, S3 buckets, and the blob store itself as `local`), opened by src/repositories.
      provide: REPOSITORY_STORES,
      inject: [BLOB_STORE, APP_CONFIG],
      useFactory: (blobs: BlobStore, config: AppConfig): RepositoryStores =>
        new AdapterRepositoryStores(blobs, blobs.kind === 'gridfs' ? 'MongoDB GridFS' : `folder ${join(config.dataDir, 'blobs')}`),
    },
  ],
  exports: [EVENT_STORE, READ_STORE, NAME_INDEX, BLOB_STORE, REPOSITORY_STORES],
})
export class InfrastructureModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly maintenance: StoreMaintenance;

  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_STORE) private readonly reads: ReadStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maintenance = new StoreMaintenance(events, { names, ttlMs: config.nameReservationTtlMs, holder: INSTANCE_ID });
  }

  /** The event store's upkeep (EventStoreDB's per-app index) runs in one process of the installation. */
  onApplicationBootstrap(): void {
    this.maintenance.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.maintenance.stop();
    await this.events.close();
    await this.names.close?.();
    await this.reads.close();
  }
}
