import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/app-config.js';
import { DataDirLock } from '../../src/infrastructure/data-dir.lock.js';
import { NAME_INDEX } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { MongoReadStore } from '../../src/infrastructure/read-store/mongo-read-store.adapter.js';
import { READ_STORE } from '../../src/infrastructure/read-store/read-store.port.js';
import { FakeMongo } from './fake-mongo.js';
import { ADMIN_TOKEN, listening, tempDir, type TestServer } from './test-server.js';

/**
 * The real application over real HTTP, its read models in the MongoDB read store on top of the
 * recording FakeMongo (a replica set: commits run in transactions); events, claims and blobs in
 * SQLite and files as usual. Tests then look at every operation the read store issued.
 */
export async function startServerOnFakeMongo(env: Record<string, string> = {}): Promise<TestServer & { mongo: FakeMongo }> {
  const dataDir = tempDir('appvault-fake-mongo-');
  const config = loadConfig({ DATA_DIR: dataDir, ADMIN_TOKEN, PORT: '0', HOST: '127.0.0.1', ...env });
  const mongo = new FakeMongo();
  const lock = DataDirLock.acquire(dataDir);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config, lock)] })
    .overrideProvider(READ_STORE)
    .useValue(new MongoReadStore(mongo.connection, true))
    .overrideProvider(NAME_INDEX)
    .useFactory({ factory: () => SqliteNameIndex.open(join(dataDir, 'claims.db')) })
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  app.useBodyParser('json', { limit: '5mb' });
  return { ...(await listening(app, dataDir)), mongo };
}
