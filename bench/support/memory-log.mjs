// Loaded into the server for a memory investigation (not by the bench itself):
//   BENCH_NODE_ARGS="--import=$PWD/bench/support/memory-log.mjs" MEMORY_LOG=/tmp/server-memory.log node dist-bench/bench/replay.bench.js
// Appends one line every 500 ms (RSS, V8 heap used and committed, external and ArrayBuffer memory,
// in MB) and one per garbage collection that paused for more than 30 ms (kind: 1 minor, 4 major,
// 8 incremental, 16 weak callbacks). The heap used just after a major collection is what is live;
// RSS follows the heap's peak, which V8 lets grow to a multiple of that before it collects.
import { appendFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

const file = process.env['MEMORY_LOG'] ?? `/tmp/appvault-memory-${process.pid}.log`;
const mb = (bytes) => (bytes / 1048576).toFixed(1);
setInterval(() => {
  const m = process.memoryUsage();
  appendFileSync(file, `${Date.now()} rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)}\n`);
}, 500).unref();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.duration > 30) appendFileSync(file, `${Date.now()} gc kind=${entry.detail?.kind} ms=${entry.duration.toFixed(0)}\n`);
}).observe({ entryTypes: ['gc'] });
