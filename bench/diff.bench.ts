/**
 * Diffs of two backups of the mix workload, on the real server and offline.
 *
 * 1. Grows app "big" with the mix workload (BENCH_EVENTS events, 200,000 by default) and starts the
 *    built server (`node dist/main.js`).
 * 2. Backs it up (a), changes it through the API (contents deleted and re-statused, a field added
 *    to a schema), backs it up again (b).
 * 3. Times `GET …/backups/{a}/diff?against={b}` and `?against=live` (asking again while they answer
 *    202, as clients do), sampling the server's RSS every 25 ms: its peak growth over the diff.
 * 4. Downloads both archives and times `appvault diff a.zip b.zip` as its own process (the offline
 *    path), sampling that process's RSS likewise.
 * Exits 1 when a peak growth passes BENCH_LIMIT_MB (128).
 *
 *   BENCH_EVENTS=1000000 node dist-bench/bench/diff.bench.js
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { api, rssMb, runJob, TOKEN } from './support/bench-server.js';
import { withGrownServer } from './support/grown-server.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const LIMIT_MB = Number(process.env['BENCH_LIMIT_MB'] ?? 128);
const MB = 1024 * 1024;

/** Runs `work` while sampling the RSS of process `pid` every 25 ms: its duration and peak growth over the RSS before. */
async function sampled<T>(pid: () => number | undefined, work: () => Promise<T>): Promise<{ ms: number; growthMb: number; result: T }> {
  const first = pid();
  const baseline = first === undefined ? 0 : rssMb(first);
  let peak = baseline;
  const timer = setInterval(() => {
    const at = pid();
    if (at !== undefined) {
      try {
        peak = Math.max(peak, rssMb(at));
      } catch {
        // The process ended between two samples.
      }
    }
  }, 25);
  const started = performance.now();
  try {
    const result = await work();
    return { ms: performance.now() - started, growthMb: peak - baseline, result };
  } finally {
    clearInterval(timer);
  }
}

/** A diff page through the route, asking again while it answers 202 (Computing) as the server says, with its snapshot. */
async function diffPage(base: string, path: string): Promise<Record<string, unknown>> {
  let answer = await api(base, 'GET', path);
  while (answer['status'] === 'Computing') {
    await new Promise((resolve) => setTimeout(resolve, Number(answer['retryAfterSeconds']) * 1000));
    answer = await api(base, 'GET', answer['snapshot'] ? `${path}&snapshot=${String(answer['snapshot'])}` : path);
  }
  return answer;
}

async function download(base: string, backupId: string, file: string): Promise<void> {
  const res = await fetch(`${base}/api/backups/${backupId}/archive`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok || !res.body) throw new Error(`downloading backup ${backupId}: ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(file));
}

await withGrownServer(EVENTS, {}, async (server) => {
  const backup = async () => {
    const started = await api(server.base, 'POST', '/api/apps/big/backups', {});
    const done = await runJob(server.base, server.pid, `/api/backups/${String(started['id'])}`);
    return { id: String(started['id']), sizeBytes: Number(done.job['sizeBytes']), ms: done.ms };
  };
  const a = await backup();
  // Changes between the two backups: contents deleted and re-statused, a field added.
  const schemas = (await api(server.base, 'GET', '/api/apps/big/schemas?top=10'))['items'] as { name: string }[];
  let changes = 0;
  for (const schema of schemas.slice(0, 3)) {
    const contents = (await api(server.base, 'GET', `/api/apps/big/content/${schema.name}?top=100`))['items'] as { id: string; status: string }[];
    for (const [i, content] of contents.entries()) {
      if (i % 2 === 0) await api(server.base, 'DELETE', `/api/apps/big/content/${schema.name}/${content.id}`);
      else await api(server.base, 'PUT', `/api/apps/big/content/${schema.name}/${content.id}/status`, { status: content.status === 'Archived' ? 'Draft' : 'Archived' });
      changes += 1;
    }
  }
  await api(server.base, 'POST', `/api/apps/big/schemas/${schemas[0]!.name}/fields`, { name: 'benchNote', type: 'String' });
  const b = await backup();

  const routeAB = await sampled(() => server.pid, () => diffPage(server.base, `/api/apps/big/backups/${a.id}/diff?against=${b.id}&limit=10`));
  const routeLive = await sampled(() => server.pid, () => diffPage(server.base, `/api/apps/big/backups/${a.id}/diff?against=live&limit=10`));

  const dir = mkdtempSync(join(tmpdir(), 'appvault-diff-bench-'));
  try {
    await download(server.base, a.id, join(dir, 'a.zip'));
    await download(server.base, b.id, join(dir, 'b.zip'));
    let child: ReturnType<typeof spawn> | undefined;
    const offline = await sampled(
      () => child?.pid,
      () =>
        new Promise<string>((resolve, reject) => {
          child = spawn(process.execPath, [join(process.cwd(), 'bin/appvault.js'), 'diff', join(dir, 'a.zip'), join(dir, 'b.zip'), '--json', '--limit', '10'], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          child.once('error', reject);
          child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`appvault diff exited ${String(code)}`))));
        }),
    );
    const total = (report: Record<string, unknown>) => Number(report['total']);
    const offlineReport = JSON.parse(offline.result) as Record<string, unknown>;
    if (total(offlineReport) !== total(routeAB.result)) throw new Error(`the offline diff found ${total(offlineReport)} changes, the route ${total(routeAB.result)}`);

    console.log(`## mix workload, ${EVENTS} events in app "big"; archives ${(a.sizeBytes / MB).toFixed(1)} and ${(b.sizeBytes / MB).toFixed(1)} MiB; ${changes} contents changed and a field added between them`);
    console.log('| diff | changes | time (s) | RSS growth (MB) |');
    console.log('|---|---|---|---|');
    console.log(`| route: backup a against backup b (server) | ${total(routeAB.result)} | ${(routeAB.ms / 1000).toFixed(1)} | ${routeAB.growthMb.toFixed(0)} |`);
    console.log(`| route: backup a against live (server) | ${total(routeLive.result)} | ${(routeLive.ms / 1000).toFixed(1)} | ${routeLive.growthMb.toFixed(0)} |`);
    console.log(`| appvault diff a.zip b.zip (offline process: its peak RSS) | ${total(offlineReport)} | ${(offline.ms / 1000).toFixed(1)} | ${offline.growthMb.toFixed(0)} |`);
    console.log(`(backups took ${(a.ms / 1000).toFixed(1)} s and ${(b.ms / 1000).toFixed(1)} s)`);
    const worst = Math.max(routeAB.growthMb, routeLive.growthMb);
    if (worst > LIMIT_MB) {
      console.error(`FAIL: the server grew by ${worst.toFixed(0)} MB during a diff, more than ${LIMIT_MB} MB`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
