// A replica in a process of its own whose clock is off by SKEW_MS (negative: behind), for the
// replica tests (test/contract/replicas.spec.ts): every Date in this process is shifted, as on a
// machine whose clock has drifted. It projects (or follows) on the SQLite files in REPLICA_DIR
// with the compiled modules (dist/, built by the test setup), leases of LEASE_TTL_MS.
//
// Prints one JSON line when started and one per "state" line on stdin: {state, pid, now}; "stop"
// stops the projector and ends the process.
const skew = Number(process.env.SKEW_MS);
const RealDate = Date;
globalThis.Date = class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew);
    else super(...args);
  }
  static now() {
    return RealDate.now() + skew;
  }
};

const dir = process.env.REPLICA_DIR;
const load = (path) => import(`../../dist/${path}`);
const { SqliteEventStore } = await load('infrastructure/event-store/sqlite-event-store.adapter.js');
const { SqliteReadStore } = await load('infrastructure/read-store/sqlite-read-store.adapter.js');
const { SqliteNameIndex } = await load('infrastructure/name-index/sqlite-name-index.adapter.js');
const { EventCatalog } = await load('eventsourcing/event-catalog.service.js');
const { ProjectionEngine } = await load('eventsourcing/projection-engine.service.js');
const { Projector } = await load('eventsourcing/projector.service.js');
const { appStream } = await load('apps/app.aggregate.js');

const store = new SqliteEventStore(`${dir}/events.db`);
const reads = new SqliteReadStore(`${dir}/read.db`);
const names = SqliteNameIndex.open(`${dir}/claims.db`);
const catalog = new EventCatalog();
catalog.register(appStream);
const projector = new Projector(store, reads, names, { nameReservationTtlMs: Number(process.env.LEASE_TTL_MS) }, new ProjectionEngine(reads, store, catalog));
await projector.start();

const report = () => process.stdout.write(`${JSON.stringify({ state: projector.state, pid: process.pid, now: Date.now() })}\n`);
report();
const { createInterface } = await import('node:readline');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'state') report();
  if (line === 'stop') break;
}
await projector.stop();
await store.close();
await names.close();
await reads.close();
process.exit(0);
