// Run by test/e2e/heap-growth.e2e.spec.ts as its own process: applies the built heap growth setting
// (argv[2], a percentage), then allocates as a job does (a steady live set, batches kept a while
// and dropped) and prints the V8 heap's peak size and the number of major collections as JSON.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

const { applyHeapGrowth } = await import(new URL('../../dist/platform/heap/heap-growth.js', import.meta.url).href);
applyHeapGrowth(Number(process.argv[2]));
let majorCollections = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorCollections += 1;
}).observe({ entryTypes: ['gc'] });
const live = [];
for (let i = 0; i < 300_000; i += 1) live.push({ key: `k${i}`, at: [i] });
const batches = [];
let peakHeapBytes = 0;
for (let round = 0; round < 1500; round += 1) {
  const batch = [];
  for (let i = 0; i < 2000; i += 1) batch.push({ id: `e${round}-${i}`, at: [i, round] });
  batches.push(batch);
  if (batches.length > 30) batches.shift();
  peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().total_heap_size);
  // The observer's entries arrive on the event loop.
  if (round % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(JSON.stringify({ peakHeapBytes, majorCollections, live: live.length }));
