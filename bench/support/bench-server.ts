/**
 * The real, built server (`node dist/main.js`) as a child process, and the measurements the
 * benchmarks take of it from outside: resident memory and CPU time from /proc (Linux only).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const TOKEN = 'bench-admin-token-0123456789';
/** The server to run: APPVAULT_MAIN, read at each spawn (a bench may compare builds), or this checkout's build. */
const mainScript = () => resolve(process.env['APPVAULT_MAIN'] ?? join(process.cwd(), 'dist', 'main.js'));
/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BenchServer {
  child: ChildProcess;
  base: string;
  pid: number;
  /** When the process was spawned (performance.now()). */
  spawnedAt: number;
}

/** The running server, so a failed run never leaves it behind. */
let current: ChildProcess | undefined;
process.once('exit', () => current?.kill('SIGKILL'));

export async function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Spawns the server; resolves once it listens (/health/live), which happens before it is ready. */
export async function spawnServer(dataDir: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const port = await freePort();
  const spawnedAt = performance.now();
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = (current = spawn(process.execPath, [...nodeArgs, mainScript()], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  }));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`The server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/health/live`)).ok) return { child, base, pid: child.pid!, spawnedAt };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
}

export async function waitReady(server: BenchServer): Promise<void> {
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`The server exited with code ${server.child.exitCode}`);
    try {
      if ((await fetch(`${server.base}/health/ready`)).status === 200) return;
    } catch {
      // restarting
    }
    await sleep(20);
  }
}

export async function stopServer(server: BenchServer): Promise<void> {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
}

export async function api(base: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
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

export function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** User + system CPU time the process has used, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Polls a job until it finishes, sampling the server's RSS meanwhile. */
export async function runJob(base: string, pid: number, path: string): Promise<{ ms: number; peakGrowthMb: number; job: Record<string, unknown> }> {
  const baseline = rssMb(pid);
  let peak = baseline;
  const started = performance.now();
  for (;;) {
    peak = Math.max(peak, rssMb(pid));
    const job = await api(base, 'GET', path);
    if (job['status'] === 'Completed' || job['status'] === 'Failed') {
      if (job['status'] === 'Failed') throw new Error(`${path} failed: ${String(job['error'])}`);
      return { ms: performance.now() - started, peakGrowthMb: peak - baseline, job };
    }
    await sleep(25);
  }
}

/** This process's RSS sampled every 20 ms while `work` runs: the peak growth over `baseline` (bytes), in MB. */
export async function peakGrowthMb(baseline: number, work: () => Promise<void>): Promise<number> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return (Math.max(peak, process.memoryUsage.rss()) - baseline) / (1024 * 1024);
}
