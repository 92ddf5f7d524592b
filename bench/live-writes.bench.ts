/**
 * Live writes alone: what one content create costs the server, without growing an installation
 * first (the replay benchmark measures the same on a grown one, after its jobs). Starts the built
 * server on an empty data folder, creates an app and a schema, warms up, then alternates runs of
 * 1 and 8 clients for BENCH_LIVE_SECONDS each, BENCH_RUNS times, and prints each run and the medians.
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
 *
 *   npm run build && tsc -p tsconfig.bench.json && node dist-bench/bench/live-writes.bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, spawnServer, stopServer, waitReady } from './support/bench-server.js';
import { round } from './support/latency-probe.js';
import { ARTICLES_SCHEMA, type LiveFigures, liveWrites } from './support/live-writes.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const SECONDS = Number(process.env['BENCH_LIVE_SECONDS'] ?? 8);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  console.log(`Live writes: ${RUNS} runs of ${SECONDS} s with 1 and 8 clients; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'appvault-live-'));
  const server = await spawnServer(dataDir);
  try {
    await waitReady(server);
    await api(server.base, 'POST', '/api/apps', { name: 'live' });
    await api(server.base, 'POST', '/api/apps/live/schemas', ARTICLES_SCHEMA);
    // JIT and caches warm, so the first run is not the slowest by construction.
    await liveWrites(server, 8, Math.min(2, SECONDS), 'live');
    const one: LiveFigures[] = [];
    const eight: LiveFigures[] = [];
    for (let run = 1; run <= RUNS; run++) {
      one.push(await liveWrites(server, 1, SECONDS, 'live'));
      eight.push(await liveWrites(server, 8, SECONDS, 'live'));
      const [a, b] = [one.at(-1)!, eight.at(-1)!];
      console.log(`  run ${run}: 1 client ${a.createsPerSecond}/s, ${a.cpuMsPerCreate} ms CPU each; 8 clients ${b.createsPerSecond}/s, ${b.cpuMsPerCreate} ms CPU each (${round(b.createsPerSecond / a.createsPerSecond, 2)}x)`);
    }
    const pick = (runs: LiveFigures[]) => ({
      createsPerSecond: median(runs.map((r) => r.createsPerSecond)),
      cpuMsPerCreate: median(runs.map((r) => r.cpuMsPerCreate)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
    });
    const [a, b] = [pick(one), pick(eight)];
    const speedups = one.map((r, i) => eight[i]!.createsPerSecond / r.createsPerSecond);
    console.log(`  median: 1 client ${a.createsPerSecond}/s, ${a.cpuMsPerCreate} ms CPU each (p50 ${a.p50Ms} ms); 8 clients ${b.createsPerSecond}/s, ${b.cpuMsPerCreate} ms CPU each (p50 ${b.p50Ms} ms); 8 clients ${round(median(speedups), 2)}x of 1`);
    console.log(JSON.stringify({ oneClient: a, eightClients: b, speedup: round(median(speedups), 2) }));
  } finally {
    await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
