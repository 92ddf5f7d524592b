import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MongoNameIndex } from '../../src/infrastructure/name-index/mongo-name-index.adapter.js';
import { MongoReadStore } from '../../src/infrastructure/read-store/mongo-read-store.adapter.js';
import { eventStoreContract } from './event-store.contract.js';
import { nameIndexContract } from './name-index.contract.js';
import { readStoreContract } from './read-store.contract.js';
import { FakeMongo } from '../support/fake-mongo.js';
import { EventStoreStandin } from '../support/esdb-standin/standin-server.js';
import { upkeptEventStore } from '../support/esdb-standin/upkept-store.js';

// The MongoDB adapters on the in-memory stand-in (test/support/fake-mongo.ts) in every run: what
// their requests mean by MongoDB's documented rules (filters, update pipelines, $$NOW, upserts,
// duplicate keys, transactions' sessions). It says nothing of a server's planner or concurrency,
// which the runs below do. A second "connection" is another store on the same stand-in; the
// claims race of three OS processes cannot run (the stand-in lives in this process), so it is
// reported skipped.
readStoreContract(
  'mongodb adapter on the in-memory stand-in',
  async () => new MongoReadStore(new FakeMongo().connection, true),
  async (store) => new MongoReadStore((store as MongoReadStore).connection, true),
);
nameIndexContract('mongodb adapter on the in-memory stand-in', async (shiftMs) => {
  const mongo = new FakeMongo();
  return { index: new MongoNameIndex(mongo.connection, { shiftMs }), close: async () => undefined };
});

// The same contract suites as the SQLite adapters, against real servers when their URLs are given.
// The EventStoreDB adapter also runs, in every run, against the stand-in server (test/support/
// esdb-standin) through the real client over gRPC. Without a URL the real-server suites are
// registered as skipped, so a run shows they did not run.
const eventStoreUrl = process.env['EVENTSTORE_URL'];
const mongoUrl = process.env['MONGO_URL'];

describe('EventStoreDB adapter, real client, stand-in server', () => {
  let standin: EventStoreStandin;
  beforeAll(async () => {
    standin = await EventStoreStandin.start();
  });
  afterAll(async () => {
    await standin.close();
  });
  eventStoreContract('eventstoredb (stand-in server)', async () => upkeptEventStore(standin.url));
});

if (eventStoreUrl) {
  eventStoreContract('eventstoredb', async () => upkeptEventStore(eventStoreUrl));
} else {
  console.log(
    'SKIP EventStoreDB contract suite against a real server: EVENTSTORE_URL is not set (set it to run against a server, e.g. esdb://localhost:2113?tls=false)',
  );
  describe.skip('EventStore contract: eventstoredb', () => {
    it('needs EVENTSTORE_URL', () => undefined);
  });
}

if (mongoUrl) {
  // One database per run, dropped at the end, so runs against a shared server cannot collide.
  const dbName = `appvault_contract_${Date.now()}_${randomUUID().slice(0, 8)}`;
  const connect = () => MongoReadStore.connect(mongoUrl, { dbName });
  describe('MongoDB adapters', () => {
    readStoreContract('mongodb', connect, connect);
    nameIndexContract('mongodb', async (shiftMs) => {
      const store = await connect();
      return {
        index: new MongoNameIndex(store.connection, { shiftMs }),
        close: () => store.close(),
        shared: { env: () => ({ RACE_ADAPTER: 'mongodb', RACE_MONGO_URL: mongoUrl, RACE_MONGO_DB: dbName }) },
      };
    });
    afterAll(async () => {
      const store = await connect();
      await store.connection.dropDatabase();
      await store.close();
    });
  });
} else {
  console.log(
    'SKIP MongoDB contract suites (ReadStore, NameIndex): MONGO_URL is not set (set it to run against a server, e.g. mongodb://localhost:27017)',
  );
  describe.skip('ReadStore and NameIndex contracts: mongodb', () => {
    it('needs MONGO_URL', () => undefined);
  });
}
