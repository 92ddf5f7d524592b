/**
 * Backup and restore of a large app through the real, built server (`node dist/main.js`), with
 * the server's resident memory sampled from /proc while each job runs.
 *
 * The app is grown offline: N events are appended straight into the SQLite event store, as if
 * written over years, then the server catches up and a backup and a restore of it run RUNS times.
 * Prints medians (the machines are shared and noisy, so single runs mean little) and exits 1 if a
 * job's peak RSS growth passes BENCH_LIMIT_MB: memory must stay flat whatever the app's size.
 *
 *   npm run bench                          # 200,000 events, 3 runs
 *   BENCH_EVENTS=1000000 npm run bench     # the 1M-event figure
 *
 * RSS includes V8's heap headroom, which grows with the garbage a long job makes. To see what a
 * job really holds, cap the heap: NODE_OPTIONS=--max-old-space-size=48 (the server inherits it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { streams } from '../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite-event-store.adapter.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const LIMIT_MB = Number(process.env['BENCH_LIMIT_MB'] ?? 128);
const TOKEN = 'bench-admin-token-0123456789';
const MAIN = resolve(process.env['APPVAULT_MAIN'] ?? join(process.cwd(), 'dist', 'main.js'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await send(base, method, path, body);
  } catch {
    // A kept-alive socket the server closed just as it was reused; once more on a fresh one.
    res = await send(base, method, path, body);
  }
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function send(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** The running server, so a failed run never leaves it behind. */
let current: ChildProcess | undefined;

async function start(dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = (current = spawn(process.execPath, [MAIN], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  }));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { child, base };
    } catch {
      // still starting (catching up projections)
    }
    if (child.exitCode !== null) throw new Error('server exited');
    await sleep(100);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Polls a job until it finishes, sampling the server's RSS meanwhile. */
async function measure(base: string, pid: number, path: string): Promise<{ ms: number; peakGrowthMb: number; job: Record<string, unknown> }> {
  const baseline = rssMb(pid);
  let peak = baseline;
  const started = Date.now();
  for (;;) {
    peak = Math.max(peak, rssMb(pid));
    const job = await api(base, 'GET', path);
    if (job['status'] === 'Completed' || job['status'] === 'Failed') {
      if (job['status'] === 'Failed') throw new Error(`${path} failed: ${String(job['error'])}`);
      return { ms: Date.now() - started, peakGrowthMb: peak - baseline, job };
    }
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'appvault-bench-'));
  try {
    let server = await start(dataDir);
    const app = await api(server.base, 'POST', '/api/apps', { name: 'big' });
    await stop(server.child);

    const grow = Date.now();
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    let version = app['version'] as number;
    for (let done = 0; done < EVENTS; done += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, EVENTS - done) }, (_, i) => ({
        type: 'AppUpdated',
        data: { label: `Label ${done + i}`, description: `Description number ${done + i} of a long history` },
        metadata: { appId: app['id'] as string, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 },
      }));
      version = (await store.append(streams.app(app['id'] as string), batch, version)).streamVersion;
    }
    await store.close();
    console.log(`Grew app "big" to ${EVENTS} events offline in ${Date.now() - grow} ms`);

    const catchUp = Date.now();
    server = await start(dataDir);
    console.log(`Server caught up with ${EVENTS} events and answered /health in ${Date.now() - catchUp} ms`);
    const pid = server.child.pid!;
    const backups: { ms: number; peakGrowthMb: number }[] = [];
    const restores: { ms: number; peakGrowthMb: number }[] = [];
    let size = 0;
    for (let run = 1; run <= RUNS; run++) {
      const backup = await api(server.base, 'POST', '/api/apps/big/backups', {});
      const b = await measure(server.base, pid, `/api/backups/${String(backup['id'])}`);
      size = b.job['sizeBytes'] as number;
      backups.push(b);
      const restore = await api(server.base, 'POST', '/api/restore', { backupId: backup['id'], name: `big-copy-${run}` });
      const r = await measure(server.base, pid, `/api/restore/${String(restore['id'])}`);
      restores.push(r);
      await api(server.base, 'DELETE', `/api/backups/${String(backup['id'])}`);
      console.log(`run ${run}: backup ${b.ms} ms (+${b.peakGrowthMb.toFixed(1)} MB RSS), restore ${r.ms} ms (+${r.peakGrowthMb.toFixed(1)} MB RSS)`);
    }
    await stop(server.child);

    const backupMs = median(backups.map((b) => b.ms));
    const restoreMs = median(restores.map((r) => r.ms));
    console.log('');
    console.log(`events: ${EVENTS}, archive: ${(size / 1024 / 1024).toFixed(1)} MB, runs: ${RUNS} (medians)`);
    console.log(`backup:  ${backupMs} ms, ${Math.round((EVENTS / backupMs) * 1000)} events/s, peak RSS growth ${median(backups.map((b) => b.peakGrowthMb)).toFixed(1)} MB`);
    console.log(`restore: ${restoreMs} ms, ${Math.round((EVENTS / restoreMs) * 1000)} events/s, peak RSS growth ${median(restores.map((r) => r.peakGrowthMb)).toFixed(1)} MB`);
    console.log(`restore takes ${(restoreMs / backupMs).toFixed(1)}x as long as backup`);
    const worst = Math.max(...backups.map((b) => b.peakGrowthMb), ...restores.map((r) => r.peakGrowthMb));
    if (worst > LIMIT_MB) {
      console.error(`FAIL: a job grew the server's RSS by ${worst.toFixed(1)} MB, over the ${LIMIT_MB} MB limit`);
      process.exitCode = 1;
    }
  } finally {
    if (current && current.exitCode === null) current.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
