/**
 * A restore killed at 95 % and resumed, against a whole restore of the same archive, on the real
 * server (issue 22's target: the resume takes under a tenth of the whole restore).
 *
 * 1. Grows app "big" with the mix workload (BENCH_RESUME_EVENTS events, 200,000 by default),
 *    starts the built server and backs the app up.
 * 2. Restores it whole ("whole"), timed from the job's start to its end (`started` → `completed`).
 * 3. Restores it again ("resumed") and SIGKILLs the server once the job has written
 *    BENCH_RESUME_AT (0.95) of the events; starts the server again on the same folder, where the
 *    restore resumes from its journal at start-up; times the resumed run the same way, and the
 *    whole way from the new process's spawn to the restore's end (start-up and catch-up included).
 *
 *   BENCH_RESUME_EVENTS=20000 node dist-bench/bench/restore-resume.bench.js
 */
import { api, sleep, spawnServer, stopServer, waitReady } from './support/bench-server.js';
import { withGrownServer } from './support/grown-server.js';

const EVENTS = Number(process.env['BENCH_RESUME_EVENTS'] ?? 200_000);
const AT = Number(process.env['BENCH_RESUME_AT'] ?? 0.95);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A job's run from its record: started → completed, in ms. */
const runMs = (job: Record<string, unknown>) => Date.parse(String(job['completed'])) - Date.parse(String(job['started']));

async function ended(base: string, path: string): Promise<Record<string, unknown>> {
  for (;;) {
    const job = await api(base, 'GET', path);
    if (job['status'] === 'Completed') return job;
    if (job['status'] === 'Failed' || job['status'] === 'Interrupted') throw new Error(`${path} is ${String(job['status'])}: ${String(job['error'])}`);
    await sleep(25);
  }
}

await withGrownServer(EVENTS, {}, async (first, dataDir) => {
  const backup = await api(first.base, 'POST', '/api/apps/big/backups', {});
  await ended(first.base, `/api/backups/${String(backup['id'])}`);

  const whole = await api(first.base, 'POST', '/api/restore', { backupId: backup['id'], name: 'whole' });
  const wholeJob = await ended(first.base, `/api/restore/${String(whole['id'])}`);

  const restore = await api(first.base, 'POST', '/api/restore', { backupId: backup['id'], name: 'resumed' });
  const path = `/api/restore/${String(restore['id'])}`;
  let killedAt = 0;
  for (;;) {
    const job = await api(first.base, 'GET', path);
    if (job['status'] !== 'Running' && job['status'] !== 'Scheduled') throw new Error(`The restore ended (${String(job['status'])}) before it reached ${AT * 100} %`);
    killedAt = Number(job['restoredEvents']);
    if (killedAt >= AT * EVENTS) break;
    await sleep(5);
  }
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await spawnServer(dataDir);
  try {
    await waitReady(second);
    const resumedJob = await ended(second.base, path);
    const sinceSpawn = performance.now() - second.spawnedAt;
    const log = (resumedJob['log'] as { message: string }[]).map((line) => line.message);
    const from = log.find((line) => line.startsWith('Resuming after event')) ?? '(no resume line)';
    const ratio = runMs(resumedJob) / runMs(wholeJob);
    console.log(`restore of ${EVENTS} events (mix workload), killed by SIGKILL at ${killedAt} events (${((100 * killedAt) / EVENTS).toFixed(1)} %)`);
    console.log(`| whole restore (job started → completed) | ${seconds(runMs(wholeJob))} |`);
    console.log(`| resumed run (job started → completed) | ${seconds(runMs(resumedJob))}, **${(100 * ratio).toFixed(1)} %** of the whole |`);
    console.log(`| from the new process's spawn to Completed (start-up, catch-up, resume) | ${seconds(sinceSpawn)}, ${((100 * sinceSpawn) / runMs(wholeJob)).toFixed(1)} % of the whole |`);
    console.log(`  ${from}`);
    // Where the resumed run's time went: its log lines from the resume on, at their offsets from its start.
    const startedAt = Date.parse(String(resumedJob['started']));
    for (const line of resumedJob['log'] as { at: string; message: string }[]) {
      const offset = Date.parse(line.at) - startedAt;
      if (offset >= 0) console.log(`  +${(offset / 1000).toFixed(2)} s  ${line.message.slice(0, 160)}`);
    }
    if (ratio >= 0.1) {
      console.log(`The resume took ${(100 * ratio).toFixed(1)} % of a whole restore; the target is under 10 %`);
      process.exitCode = 1;
    }
  } finally {
    await stopServer(second);
  }
});
