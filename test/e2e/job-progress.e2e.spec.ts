import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { growOffline } from '../support/grow.js';
import { readEventStream } from '../support/sse.js';
import { ADMIN_TOKEN, createUser, startServer, type TestServer, tempDir } from '../support/test-server.js';

interface JobSnapshot {
  status: string;
  phase: string;
  progress: { done: number; total: number; unit: string };
  percent: number;
  etaSeconds: number | null;
  eventCount: number;
}

/** The rules every stream of job snapshots must keep, whatever the job. */
function expectSteadyProgress(jobs: JobSnapshot[], phases: string[]): void {
  expect(jobs.length).toBeGreaterThan(1);
  for (const [i, job] of jobs.entries()) {
    expect(job.progress.unit).toBe('events');
    expect(job.progress.done).toBeLessThanOrEqual(job.progress.total);
    expect(job.percent).toBeGreaterThanOrEqual(0);
    expect(job.percent).toBeLessThanOrEqual(100);
    if (job.status !== 'Completed') expect(job.percent).toBeLessThan(100);
    if (job.etaSeconds !== null) expect(job.etaSeconds).toBeGreaterThanOrEqual(0);
    const before = jobs[i - 1];
    if (!before) continue;
    expect(job.progress.done, `done went back at snapshot ${i}`).toBeGreaterThanOrEqual(before.progress.done);
    expect(job.percent, `percent went back at snapshot ${i}`).toBeGreaterThanOrEqual(before.percent);
    // Phases only move forward, in the documented order.
    const at = (phase: string) => (phase === 'queued' ? -1 : phase === 'done' ? phases.length : phases.indexOf(phase));
    expect(at(job.phase), `unknown phase ${job.phase}`).not.toBe(phases.length + 1);
    expect(at(job.phase), `phase ${before.phase} -> ${job.phase}`).toBeGreaterThanOrEqual(at(before.phase));
  }
  const last = jobs.at(-1)!;
  expect(last).toMatchObject({ status: 'Completed', phase: 'done', percent: 100, etaSeconds: 0 });
  expect(last.progress.done).toBe(last.progress.total);
  expect(last.progress.total).toBe(last.eventCount);
  // Something was seen between the start and the end.
  expect(jobs.some((job) => job.status === 'Running' && job.progress.done > 0 && job.progress.done < job.progress.total)).toBe(true);
}

describe('live progress of backups and restores', () => {
  let server: TestServer;
  let events: number;

  beforeAll(async () => {
    const dataDir = tempDir();
    const [big] = await growOffline(dataDir, { events: 12_000, apps: ['big'] });
    events = big!.events;
    server = await startServer({}, dataDir);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('streams a backup from Scheduled to Completed: done never decreases and reaches the exact total', async () => {
    const started = await server.admin.post('/api/apps/big/backups', { label: 'watched' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ phase: 'queued', percent: 0, progress: { done: 0, unit: 'events' } });
    const stream = await readEventStream(`${server.url}/api/apps/big/backups/${started.body.id}/events`, ADMIN_TOKEN);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    expect(stream.messages.at(-1)).toEqual({ event: 'end', data: { status: 'Completed' } });
    const jobs = stream.messages.filter((m) => m.event === 'job').map((m) => m.data as JobSnapshot);
    expectSteadyProgress(jobs, ['events', 'users', 'finishing']);
    expect(jobs.at(-1)!.progress.total).toBe(events);
    // The stream's last snapshot is the job as GET serves it.
    expect((await server.admin.get(`/api/backups/${started.body.id}`)).body).toEqual(jobs.at(-1));
    // A stream of a job that already ended sends it once and ends.
    const again = await readEventStream(`${server.url}/api/backups/${started.body.id}/events`, ADMIN_TOKEN);
    expect(again.messages.map((m) => m.event)).toEqual(['job', 'end']);
  }, 180_000);

  it('streams a restore through its phases to Completed with the manifest total', async () => {
    const backup = (await server.admin.get('/api/apps/big/backups')).body.items[0];
    const started = await server.admin.post('/api/restore', { backupId: backup.id, name: 'big-watched' });
    expect(started.status).toBe(202);
    const stream = await readEventStream(`${server.url}/api/restore/${started.body.id}/events`, ADMIN_TOKEN);
    expect(stream.messages.at(-1)).toEqual({ event: 'end', data: { status: 'Completed' } });
    const jobs = stream.messages.filter((m) => m.event === 'job').map((m) => m.data as JobSnapshot);
    expectSteadyProgress(jobs, ['fetching', 'verifying', 'reserving', 'users', 'events', 'rebuilding', 'committing']);
    expect(jobs.at(-1)!.progress.total).toBe(events);
    expect(new Set(jobs.map((job) => job.phase))).toContain('events');
  }, 180_000);

  it('counts a point-in-time restore against the events it keeps', async () => {
    const backup = (await server.admin.get('/api/apps/big/backups')).body.items[0];
    const started = await server.admin.post('/api/restore', { backupId: backup.id, name: 'big-early', untilEvent: 5000 });
    const stream = await readEventStream(`${server.url}/api/restore/${started.body.id}/events`, ADMIN_TOKEN);
    const last = stream.messages.filter((m) => m.event === 'job').at(-1)!.data as JobSnapshot;
    expect(last).toMatchObject({ status: 'Completed', percent: 100, progress: { done: 5000, total: 5000, unit: 'events' } });

    // As of a time: the total is the events up to that time, learnt while the archive is checked.
    const at = (await server.admin.get('/api/apps/big/events?after=2999&take=1')).body.items[0].timestamp as string;
    let expected = 0;
    for (let after = 0; ; after += 1000) {
      const page = (await server.admin.get(`/api/apps/big/events?after=${after}&take=1000`)).body.items as { timestamp: string }[];
      const upTo = page.findIndex((event) => Date.parse(event.timestamp) > Date.parse(at));
      expected += upTo < 0 ? page.length : upTo;
      if (upTo >= 0 || page.length < 1000) break;
    }
    const timed = await server.admin.post('/api/restore', { backupId: backup.id, name: 'big-timed', until: at });
    const timedStream = await readEventStream(`${server.url}/api/restore/${timed.body.id}/events`, ADMIN_TOKEN);
    const timedJobs = timedStream.messages.filter((m) => m.event === 'job').map((m) => m.data as JobSnapshot & { restoredEvents: number });
    expect(timedJobs.at(-1)).toMatchObject({ status: 'Completed', restoredEvents: expected, progress: { done: expected, total: expected } });
    // Once the check has counted them, the total no longer moves.
    const counted = timedJobs.filter((job) => job.phase === 'events' || job.phase === 'rebuilding' || job.phase === 'committing');
    for (const job of counted) expect(job.progress.total).toBe(expected);
  }, 180_000);

  it('ends a failed job\'s stream with its failure, and guards the streams like the jobs', async () => {
    const started = await server.admin.post('/api/restore', { url: 'http://127.0.0.1:9/nothing.zip', name: 'never' });
    expect(started.status).toBe(202);
    const stream = await readEventStream(`${server.url}/api/restore/${started.body.id}/events`, ADMIN_TOKEN);
    expect(stream.messages.at(-1)).toEqual({ event: 'end', data: { status: 'Failed' } });
    const last = stream.messages.filter((m) => m.event === 'job').at(-1)!.data as JobSnapshot & { error: string };
    expect(last).toMatchObject({ status: 'Failed', phase: 'failed', etaSeconds: 0 });
    expect(last.error).toBeTruthy();

    const backup = (await server.admin.get('/api/apps/big/backups')).body.items[0];
    const outsider = await createUser(server, 'outsider@example.com');
    for (const path of [`/api/restore/${started.body.id}/events`, `/api/backups/${backup.id}/events`, `/api/apps/big/backups/${backup.id}/events`]) {
      expect((await server.client().get(path)).status, path).toBe(401);
      expect((await outsider.client.get(path)).status, path).toBe(403);
    }
    expect((await server.admin.get('/api/restore/no-such-job/events')).status).toBe(404);
    expect((await server.admin.get('/api/backups/no-such-backup/events')).status).toBe(404);
  }, 60_000);
});

describe('one job after another', () => {
  it('lets the next backup or restore start as soon as the previous one is seen to end', async () => {
    const server = await startServer();
    try {
      expect((await server.admin.post('/api/apps', { name: 'relay' })).status).toBe(201);
      let backupId = '';
      for (let i = 0; i < 5; i++) {
        const started = await server.admin.post('/api/apps/relay/backups', { label: `b${i}` });
        expect(started.status, JSON.stringify(started.body)).toBe(202);
        const stream = await readEventStream(`${server.url}/api/backups/${started.body.id}/events`, ADMIN_TOKEN);
        expect(stream.messages.at(-1)?.data).toEqual({ status: 'Completed' });
        backupId = started.body.id;
      }
      for (let i = 0; i < 5; i++) {
        // Failing fast (a blocked URL) and succeeding both free the slot for the very next request.
        const body = i % 2 === 0 ? { url: 'http://127.0.0.1:9/x.zip', name: `never-${i}` } : { backupId, name: `relay-copy-${i}` };
        const started = await server.admin.post('/api/restore', body);
        expect(started.status, JSON.stringify(started.body)).toBe(202);
        const stream = await readEventStream(`${server.url}/api/restore/${started.body.id}/events`, ADMIN_TOKEN);
        expect(stream.messages.at(-1)?.data).toEqual({ status: i % 2 === 0 ? 'Failed' : 'Completed' });
      }
    } finally {
      await server.close();
    }
  }, 60_000);
});
