/**
 * Backups of one grown app by two builds of the server, run by turns on the same data folder, so
 * that a loaded machine weighs on both alike: for each run the wall time, the server's CPU time
 * and its main thread's share of it (from /proc), its peak RSS growth and the latency of /health.
 * The main thread's CPU is the figure a busy machine changes least: it shows what a backup takes
 * from the thread that serves requests, and the rest is what other threads took off it.
 *
 *   BENCH_MAINS=/old/dist/main.js,dist/main.js BENCH_EVENTS=200000 BENCH_RUNS=3 node dist-bench/bench/backup-threads.bench.js
 *
 * BENCH_DATA_DIR reuses a data folder grown before (its app "big" is backed up); otherwise app
 * "big" is grown with the mix workload to BENCH_EVENTS events in a temporary folder, removed after.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FilesystemBlobStore } from '../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { api, cpuMs, runJob, spawnServer, stopServer, waitReady } from './support/bench-server.js';
import { probe } from './support/latency-probe.js';
import { claimAppNames, growApps } from './workloads/mix.workload.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const MAINS = (process.env['BENCH_MAINS'] ?? 'dist/main.js').split(',').map((main) => resolve(main.trim()));
const CLOCK_TICKS = 100;

/** CPU time of the process's main thread (its task of the same id), in ms. */
function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const given = process.env['BENCH_DATA_DIR'];
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'appvault-bench-'));
  try {
    if (!given) {
      const store = new SqliteEventStore(join(dataDir, 'events.db'));
      const apps = await growApps(store, new FilesystemBlobStore(join(dataDir, 'blobs')), { events: EVENTS, apps: ['big'], shape: 'mix' });
      await store.close();
      await claimAppNames(join(dataDir, 'claims.db'), apps);
    }
    const results = new Map<string, { ms: number; cpu: number; mainCpu: number; rss: number; p99: number; max: number }[]>(MAINS.map((m) => [m, []]));
    for (let run = 1; run <= RUNS; run++) {
      // Alternating which build goes first, so neither always meets the machine in the same state.
      const order = run % 2 === 1 ? MAINS : [...MAINS].reverse();
      for (const build of order) {
        process.env['APPVAULT_MAIN'] = build;
        const server = await spawnServer(dataDir);
        try {
          await waitReady(server);
          const sampler = probe(server.base, { health: { path: '/health' } });
          const cpu = cpuMs(server.pid);
          const mainCpu = mainThreadCpuMs(server.pid);
          const job = await api(server.base, 'POST', '/api/apps/big/backups', { label: `threads ${run}` });
          const done = await runJob(server.base, server.pid, `/api/backups/${String(job['id'])}`);
          const latency = (await sampler.stop())['health']!;
          const figures = { ms: Math.round(done.ms), cpu: Math.round(cpuMs(server.pid) - cpu), mainCpu: Math.round(mainThreadCpuMs(server.pid) - mainCpu), rss: Math.round(done.peakGrowthMb), p99: latency.p99, max: latency.max };
          results.get(build)!.push(figures);
          console.log(`${build} run ${run}: ${figures.ms} ms, server CPU ${figures.cpu} ms of which main thread ${figures.mainCpu} ms, +${figures.rss} MB RSS, /health p99 ${figures.p99} ms max ${figures.max} ms (${String(done.job['eventCount'])} events)`);
          await api(server.base, 'DELETE', `/api/backups/${String(job['id'])}`);
        } finally {
          await stopServer(server);
        }
      }
    }
    console.log('\n| build | backup (median) | server CPU | main thread CPU | RSS growth | /health p99 / max |\n|---|---|---|---|---|---|');
    for (const [build, runs] of results) {
      const m = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f));
      console.log(`| ${build} | ${m((r) => r.ms)} ms (${runs.map((r) => r.ms).join(', ')}) | ${m((r) => r.cpu)} ms | ${m((r) => r.mainCpu)} ms | +${m((r) => r.rss)} MB | ${m((r) => r.p99)} / ${Math.max(...runs.map((r) => r.max))} ms |`);
    }
  } finally {
    if (!given) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
