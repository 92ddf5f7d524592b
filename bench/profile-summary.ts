/**
 * Sums a V8 CPU profile (`--cpu-prof`, e.g. a bench server run with
 * `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`) by function: self time and its share of
 * the samples, the busiest first. Idle, GC and program time are listed like any function. With
 * `--thread`-less profiles of several threads (a worker writes its own file), pass each file.
 *
 *   node dist-bench/bench/profile-summary.js /tmp/prof/CPU.*.cpuprofile [--top=40] [--from=s] [--to=s]
 *
 * `--from`/`--to` keep the samples between those seconds after the profile began (a bench
 * server's start-up catch-up comes first; skip it to see the job after).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice('--top='.length) ?? 40);
const seconds = (name: string) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : Number(arg.slice(name.length + 3)) * 1e6;
};
const from = seconds('from') ?? 0;
const to = seconds('to') ?? Number.POSITIVE_INFINITY;
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  console.error('Usage: profile-summary <file.cpuprofile>... [--top=N]');
  process.exit(2);
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let total = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time since the one before: it belongs to the sample it ends on.
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) return;
    const frame = byId.get(id)?.callFrame;
    const where = frame?.url ? `${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}` : '';
    const key = `${frame?.functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    total += delta;
  });
  const busy = total - (selfUs.get('(idle)') ?? 0);
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle`);
  const rows = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) console.log(`${(us / 1e3).toFixed(0).padStart(9)} ms ${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%  ${key}`);
}
