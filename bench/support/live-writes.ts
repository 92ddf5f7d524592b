/**
 * Live content creates against a running server: `clients` concurrent clients create contents in
 * a loop for `seconds`, and the server's CPU time (from /proc) is read before and after, so the
 * figure is what one create costs the server, whatever the clients cost.
 */
import { api, type BenchServer, cpuMs } from './bench-server.js';
import { round } from './latency-probe.js';

export interface LiveFigures {
  createsPerSecond: number;
  cpuMsPerCreate: number;
  p50Ms: number;
  p99Ms: number;
}

/** The schema the creates write to (what the mix workload's "articles" has, in short). */
export const ARTICLES_SCHEMA = {
  name: 'articles',
  fields: [
    { name: 'title', type: 'String', required: true },
    { name: 'body', type: 'String' },
    { name: 'rating', type: 'Number' },
    { name: 'featured', type: 'Boolean' },
  ],
};

export async function liveWrites(server: BenchServer, clients: number, seconds: number, app = 'other'): Promise<LiveFigures> {
  const latencies: number[] = [];
  let created = 0;
  const until = performance.now() + seconds * 1000;
  const cpuBefore = cpuMs(server.pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < until; i++) {
        const t = performance.now();
        await api(server.base, 'POST', `/api/apps/${app}/content/articles`, {
          data: { title: `Live article ${c}-${i}`, body: `Written by client ${c} during the live benchmark, number ${i}, with some words to index`, rating: i % 5, featured: i % 2 === 0 },
        });
        latencies.push(performance.now() - t);
        created += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuMs(server.pid) - cpuBefore;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    createsPerSecond: round(created / elapsed, 0),
    cpuMsPerCreate: round(cpu / created, 2),
    p50Ms: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    p99Ms: round(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
  };
}
