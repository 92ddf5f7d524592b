import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { BLOB_STORE } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { FilesystemBlobStore } from '../../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { EVENT_STORE } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { NAME_INDEX } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { READ_STORE } from '../../src/infrastructure/read-store/read-store.port.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { startComposedServer, type TestServer, tempDir } from './test-server.js';

/**
 * One of several AppVault servers on one set of stores, as replicas on EventStoreDB and MongoDB
 * run: the real application (every module, real HTTP), with a DATA_DIR of its own (its lock, its
 * temporary files) and its own connections to SQLite files and a blob folder in `shared`, which
 * stand for the shared databases. (A server started the ordinary way refuses a second process on
 * its DATA_DIR, so only the stores are shared.)
 */
export async function startReplica(shared: string, env: Record<string, string> = {}): Promise<TestServer> {
  return startComposedServer(env, tempDir('appvault-replica-'), (root) =>
    Test.createTestingModule({ imports: [root] })
      .overrideProvider(EVENT_STORE)
      .useValue(new SqliteEventStore(join(shared, 'events.db')))
      .overrideProvider(READ_STORE)
      .useValue(new SqliteReadStore(join(shared, 'read.db')))
      .overrideProvider(NAME_INDEX)
      .useValue(SqliteNameIndex.open(join(shared, 'claims.db')))
      .overrideProvider(BLOB_STORE)
      .useValue(new FilesystemBlobStore(join(shared, 'blobs'))),
  );
}
