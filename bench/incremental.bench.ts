/**
 * A daily incremental backup against a full one of the same app, on the real server.
 *
 * 1. Grows app "big" with the mix workload (BENCH_EVENTS events, 50,000 by default) and starts the
 *    built server (`node dist/main.js`); one uncounted full backup warms it.
 * 2. BENCH_RUNS times (3 by default): a full backup of the app; the server stops, the workload
 *    goes on for BENCH_NEW_EVENTS more events (1,000 by default: a day's use, new file versions
 *    among them) written to the same data folder, and the server starts again; then an incremental
 *    backup from that full one. Each backup is timed from its acceptance to its completion as the
 *    job records them (`created` → `completed`), so polling does not blur the short one.
 * 3. Prints the medians and the incremental's share of the full backup's bytes and time; exits 1
 *    when the incremental takes 5% or more of the full's time, or writes 1% or more of its bytes.
 *    The byte share cannot be less than the share of the history that is new (BENCH_NEW_EVENTS of
 *    the events at the full backup: 2% of a 50,000-event app): an app that small is held to 1.25
 *    times that floor instead (the incremental holds the new events and file versions, nothing
 *    more), and the run says so. From about 125,000 events the 1% target applies as it is.
 *
 *   BENCH_EVENTS=20000 BENCH_RUNS=5 node dist-bench/bench/incremental.bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { claimAppNames, growAppsInSteps } from './workloads/mix.workload.js';
import { api, type BenchServer, runJob, spawnServer, stopServer, waitReady } from './support/bench-server.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 50_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const NEW_EVENTS = Number(process.env['BENCH_NEW_EVENTS'] ?? 1000);
/** The targets of the issue that asked for incremental backups: under 1% of the bytes, under 5% of the time. */
const BYTES_TARGET = 0.01;
const TIME_TARGET = 0.05;
const MB = 1024 * 1024;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A backup of app "big", run to its end: its record, and its time from acceptance to completion. */
async function backup(server: BenchServer, body: Record<string, unknown>): Promise<{ id: string; ms: number; bytes: number; events: number }> {
  const started = await api(server.base, 'POST', '/api/apps/big/backups', body);
  const { job } = await runJob(server.base, server.pid, `/api/backups/${String(started['id'])}`);
  return { id: String(job['id']), ms: Date.parse(String(job['completed'])) - Date.parse(String(job['created'])), bytes: Number(job['sizeBytes']), events: Number(job['eventCount']) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'appvault-bench-'));
  const env = { MAX_BACKUPS_PER_APP: String(2 * RUNS + 4) };
  const open = () => ({ store: new SqliteEventStore(join(dataDir, 'events.db')), blobs: new FilesystemBlobStore(join(dataDir, 'blobs')) });
  let server: BenchServer | undefined;
  try {
    let target = open();
    const growing = await growAppsInSteps(target.store, target.blobs, { events: EVENTS, apps: ['big'], shape: 'mix' });
    await target.store.close();
    await claimAppNames(join(dataDir, 'claims.db'), growing.apps);
    server = await spawnServer(dataDir, env);
    await waitReady(server);
    await api(server.base, 'DELETE', `/api/backups/${(await backup(server, {})).id}`);

    const full = { ms: [] as number[], bytes: [] as number[], events: 0 };
    const incremental = { ms: [] as number[], bytes: [] as number[] };
    for (let run = 1; run <= RUNS; run++) {
      const base = await backup(server, {});
      full.ms.push(base.ms);
      full.bytes.push(base.bytes);
      full.events = base.events;
      // A day's use, written while the server is down (the store is one SQLite file), then the server again.
      await stopServer(server);
      target = open();
      await growing.more(NEW_EVENTS, target);
      await target.store.close();
      server = await spawnServer(dataDir, env);
      await waitReady(server);
      const increment = await backup(server, { incremental: { base: base.id } });
      if (increment.events !== NEW_EVENTS) throw new Error(`The incremental backup holds ${increment.events} events, not the ${NEW_EVENTS} written since its base`);
      incremental.ms.push(increment.ms);
      incremental.bytes.push(increment.bytes);
      await api(server.base, 'DELETE', `/api/backups/${increment.id}`);
      await api(server.base, 'DELETE', `/api/backups/${base.id}`);
    }
    const bytesShare = median(incremental.bytes) / median(full.bytes);
    const timeShare = median(incremental.ms) / median(full.ms);
    // No incremental holds less than the new part of the history: the byte target needs it to be small.
    const floor = NEW_EVENTS / full.events;
    const bytesLimit = Math.max(BYTES_TARGET, floor * 1.25);
    console.log(`## mix workload, app "big" at ${EVENTS} events and up (${full.events} at the last full backup); ${NEW_EVENTS} new events before each incremental; medians of ${RUNS} runs`);
    console.log('| backup | bytes | time (ms) |');
    console.log('|---|---|---|');
    console.log(`| full | ${median(full.bytes)} (${(median(full.bytes) / MB).toFixed(1)} MiB) | ${Math.round(median(full.ms))} |`);
    console.log(`| incremental | ${median(incremental.bytes)} (${(median(incremental.bytes) / MB).toFixed(2)} MiB) | ${Math.round(median(incremental.ms))} |`);
    console.log(`| incremental / full | ${(bytesShare * 100).toFixed(2)}% (target < ${BYTES_TARGET * 100}%) | ${(timeShare * 100).toFixed(2)}% (target < ${TIME_TARGET * 100}%) |`);
    if (bytesLimit > BYTES_TARGET) {
      console.log(
        `The new events are ${(floor * 100).toFixed(2)}% of the history, so no incremental can write under ${BYTES_TARGET * 100}% of the full's bytes here; held to ${(bytesLimit * 100).toFixed(2)}% (1.25 times that share). Run with BENCH_EVENTS=150000 for the 1% target itself.`,
      );
    }
    if (bytesShare >= bytesLimit || timeShare >= TIME_TARGET) {
      console.error('The incremental backup missed a target');
      process.exitCode = 1;
    }
  } finally {
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
