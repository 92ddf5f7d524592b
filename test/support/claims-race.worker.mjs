// One of several OS processes racing for the same claims on one shared store, run by the
// NameIndex contract (test/contract/name-index.contract.ts). It uses the compiled adapters
// (dist/, built by the test setup), as a second AppVault process would.
//
// Env: RACE_ADAPTER=sqlite with RACE_SQLITE_FILE, or RACE_ADAPTER=mongodb with RACE_MONGO_URL;
// RACE_MONGO_DB; RACE_KEYS (comma separated), RACE_OWNER. Says "ready" once its store is open and
// starts at the "go" line on stdin, so all workers race at once instead of one after the other. Prints {won, refused, errors, started, ended} as JSON.
const { RACE_ADAPTER, RACE_SQLITE_FILE, RACE_MONGO_URL, RACE_MONGO_DB, RACE_KEYS, RACE_OWNER } = process.env;

async function open() {
  if (RACE_ADAPTER === 'sqlite') {
    const { SqliteNameIndex } = await import('../../dist/infrastructure/name-index/sqlite-name-index.adapter.js');
    const index = SqliteNameIndex.open(RACE_SQLITE_FILE);
    return { index, close: () => index.close() };
  }
  const { MongoReadStore } = await import('../../dist/infrastructure/read-store/mongo-read-store.adapter.js');
  const { MongoNameIndex } = await import('../../dist/infrastructure/name-index/mongo-name-index.adapter.js');
  const store = await MongoReadStore.connect(RACE_MONGO_URL, { dbName: RACE_MONGO_DB });
  return { index: new MongoNameIndex(store.connection), close: () => store.close() };
}

const { index, close } = await open();
const won = [];
const refused = [];
const errors = [];
// Each worker takes the keys in its own random order, so every pair of workers meets on some keys.
const keys = RACE_KEYS.split(',').sort(() => Math.random() - 0.5);
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
const started = Date.now();
try {
  for (const key of keys) {
    const claim = { kind: 'schema-name', scope: 'race', key };
    try {
      const token = await index.reserve(claim, 30_000, RACE_OWNER);
      // Hold it a moment, as a command does between reserving and committing.
      await new Promise((resolve) => setImmediate(resolve));
      await index.commit(claim, token, RACE_OWNER);
      won.push(key);
    } catch (error) {
      if (error?.name === 'NameUnavailableError') refused.push(key);
      else errors.push(`${key}: ${error?.message ?? String(error)}`);
    }
  }
} finally {
  await close();
}
process.stdout.write(`${JSON.stringify({ won, refused, errors, started, ended: Date.now() })}\n`);
