import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { eventStoreContract } from './event-store.contract.js';
import { nameIndexContract } from './name-index.contract.js';
import { readStoreContract } from './read-store.contract.js';

// Real files on disk, a fresh directory per test, so WAL and durability settings are exercised.
const dir = () => mkdtempSync(join(tmpdir(), 'appvault-contract-'));

eventStoreContract('sqlite', async () => new SqliteEventStore(join(dir(), 'events.db')));
readStoreContract('sqlite', async () => new SqliteReadStore(join(dir(), 'read.db')));
nameIndexContract('sqlite', async (now) => {
  const store = new SqliteReadStore(join(dir(), 'read.db'));
  return { index: new SqliteNameIndex(store.database, now), close: () => store.close() };
});
