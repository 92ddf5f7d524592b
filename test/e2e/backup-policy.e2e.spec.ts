import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStage } from '../../src/backup/create/backup.runner.js';
import { JobFaults } from '../../src/jobs/job-faults.js';
import { BackupPoliciesService } from '../../src/backup/schedule/backup-policies.service.js';
import { BackupScheduler } from '../../src/backup/schedule/backup-scheduler.service.js';
import { claims, NAME_INDEX, type NameIndex } from '../../src/infrastructure/name-index/name-index.port.js';
import { waitForJob } from '../support/fixtures.js';
import { type Cast, createCast, startServer, type TestServer } from '../support/test-server.js';

/**
 * Scheduled backups, driven deterministically: the schedule is yearly (`0 0 1 1 *`, so the real
 * timer never finds it due during the test) and the test calls the scheduler's `runDue(now)` with
 * times years ahead, as the timer would once that time had come.
 */
const YEARLY = '0 0 1 1 *';
const at = (iso: string) => new Date(iso);

describe('backup policies and scheduled backups', () => {
  let server: TestServer;
  let cast: Cast;
  const scheduler = () => server.app.get(BackupScheduler);
  /** The owner, on the current server (a restart changes its address). */
  const owner = () => server.client(cast.owner.client.token);
  const backups = async () => (await owner().get('/api/apps/shop/backups')).body.items as Record<string, unknown>[];
  /** One scheduler pass at `now`, then waits for what it started to end and for its retention to run. */
  const run = async (now: string) => {
    const started = await scheduler().runDue(at(now));
    await scheduler().idle();
    return started;
  };

  beforeAll(async () => {
    server = await startServer({ MAX_BACKUPS_PER_APP: '3' });
    cast = await createCast(server, 'shop');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is 404 before a policy is set, and only Owners, Developers and admins reach it', async () => {
    const none = await cast.owner.client.get('/api/apps/shop/backup-policy');
    expect(none.status).toBe(404);
    expect(none.body.message).toMatch(/no backup policy/);
    expect((await cast.editor.client.put('/api/apps/shop/backup-policy', { schedule: YEARLY })).status).toBe(403);
    expect((await cast.reader.client.get('/api/apps/shop/backup-policy')).status).toBe(403);
    expect((await cast.stranger.client.get('/api/apps/shop/backup-policy')).status).toBe(403);
    expect((await cast.owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(404);
  });

  it('refuses invalid policies with a message naming the field', async () => {
    const put = (body: unknown) => cast.developer.client.put('/api/apps/shop/backup-policy', body);
    const cases: [unknown, RegExp][] = [
      [{}, /^schedule: is required$/],
      [{ schedule: 'every day' }, /^schedule: must be a cron expression of 5 fields .* got 2$/],
      [{ schedule: '61 * * * *' }, /^schedule: is not a valid cron expression: .*minute/i],
      [{ schedule: '0 0 1 1 * * 2030' }, /^schedule: must be a cron expression of 5 fields .* got 7$/],
      [{ schedule: '0 0 30 2 *' }, /^schedule: never occurs$/],
      [{ schedule: YEARLY, keepLast: 0 }, /^keepLast: must be at least 1$/],
      [{ schedule: YEARLY, keepDaily: 1001 }, /^keepDaily: must be at most 1000$/],
      [{ schedule: YEARLY, keepWeekly: 1.5 }, /^keepWeekly: must be a whole number$/],
      [{ schedule: YEARLY, keepMonthly: '3' }, /^keepMonthly: /],
      [{ schedule: YEARLY, include: { schemas: ['a'] } }, /^include\.schemas: the app has no schema named "a"$/],
      [{ schedule: YEARLY, include: { assets: 'some' } }, /^include\.assets: must be one of all, referenced, none$/],
      [{ schedule: YEARLY, include: { schemas: [] } }, /^include\.schemas: must name at least one schema/],
      [{ schedule: YEARLY, every: 'day' }, /unknown field "every"/],
    ];
    for (const [body, message] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await cast.owner.client.get('/api/apps/shop/backup-policy')).status).toBe(404);
  });

  it('refuses a schedule that runs more often than BACKUP_SCHEDULE_MIN_INTERVAL_MS and keep rules beyond MAX_SCHEDULED_BACKUPS_PER_APP', async () => {
    const put = (body: unknown) => cast.developer.client.put('/api/apps/shop/backup-policy', body);
    // The case from the report: every second, keeping a thousand.
    const pile = await put({ schedule: '*/1 * * * * *', keepLast: 1000 });
    expect(pile.status).toBe(400);
    expect(pile.body.message).toMatch(/^schedule: runs only 1 second apart \(at \S+ and the run after it\); scheduled backups of an app must be at least 15 minutes apart \(BACKUP_SCHEDULE_MIN_INTERVAL_MS\)/);
    expect(pile.body.message).toMatch(/; keepLast: keeps up to 1000 scheduled backups; an app may keep at most 50 \(MAX_SCHEDULED_BACKUPS_PER_APP\)$/);
    const cases: [unknown, RegExp][] = [
      [{ schedule: '0-59 * * * * *' }, /^schedule: runs only 1 second apart/],
      [{ schedule: '*/5 * * * *' }, /^schedule: runs only 5 minutes apart/],
      [{ schedule: '0,1 3 * * *' }, /^schedule: runs only 1 minute apart \(at \d{4}-\d\d-\d\dT03:00:00\.000Z/],
      [{ schedule: YEARLY, keepLast: 30, keepDaily: 30 }, /^keepLast, keepDaily: together keep up to 60 scheduled backups; an app may keep at most 50 \(MAX_SCHEDULED_BACKUPS_PER_APP\)$/],
      [{ schedule: YEARLY, keepDaily: 7, keepWeekly: 4, keepMonthly: 40 }, /^keepDaily, keepWeekly, keepMonthly: together keep up to 51/],
      [{ schedule: `0 3 * * *\u001b[2J` }, /^schedule: contains a control character \(U\+001B\)/],
    ];
    for (const [body, message] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await owner().get('/api/apps/shop/backup-policy')).status).toBe(404);
    // At the limits: once a day with rules keeping 50, and every 15 minutes.
    const daily = await put({ schedule: '0 3 * * *', keepLast: 20, keepDaily: 30 });
    expect(daily.status, JSON.stringify(daily.body)).toBe(200);
    expect(daily.body).toMatchObject({ schedule: '0 3 * * *', keepLast: 20, keepDaily: 30 });
    expect((await put({ schedule: '*/15 * * * *', keepLast: 50 })).status).toBe(200);
    expect((await owner().delete('/api/apps/shop/backup-policy')).status).toBe(204);
  });

  it('sets, shows, replaces and deletes a policy', async () => {
    // Six fields, seconds first; yearly, so the real timer never finds it due while the test runs.
    const set = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: ' 30  0 0 1 1 * ', keepDaily: 7 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ appName: 'shop', schedule: '30 0 0 1 1 *', keepLast: null, keepDaily: 7, lastRun: null, lastError: null });
    expect(set.body.nextRun).toBe(`${new Date().getUTCFullYear() + 1}-01-01T00:00:30.000Z`);
    expect((await server.admin.get('/api/apps/shop/backup-policy')).body).toEqual(set.body);
    const replaced = await cast.owner.client.put('/api/apps/shop/backup-policy', { schedule: YEARLY });
    expect(replaced.body).toMatchObject({ schedule: YEARLY, keepDaily: null, nextRun: `${new Date().getUTCFullYear() + 1}-01-01T00:00:00.000Z`, created: set.body.created });
    expect((await cast.owner.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
    expect((await cast.owner.client.get('/api/apps/shop/backup-policy')).status).toBe(404);
  });

  it('runs one catch-up backup for several missed occurrences, marked scheduled, and keepLast prunes only older scheduled ones', async () => {
    const manual = await cast.owner.client.post('/api/apps/shop/backups', { label: 'by hand' });
    expect(manual.status).toBe(202);
    expect(manual.body.trigger).toBe('manual');
    expect((await waitForJob(cast.owner.client, `/api/apps/shop/backups/${manual.body.id}`)).status).toBe('Completed');

    expect((await cast.owner.client.put('/api/apps/shop/backup-policy', { schedule: YEARLY, keepLast: 2 })).status).toBe(200);
    const year = new Date().getUTCFullYear();
    expect(await run(`${year}-06-01T00:00:00.000Z`)).toEqual([]); // not due yet

    // Three occurrences (years +1, +2, +3) have passed: one backup, not three.
    const first = await run(`${year + 3}-06-01T00:00:00.000Z`);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ trigger: 'scheduled', appName: 'shop' });
    let policy = (await cast.owner.client.get('/api/apps/shop/backup-policy')).body;
    expect(policy).toMatchObject({ nextRun: `${year + 4}-01-01T00:00:00.000Z`, lastRun: `${year + 3}-06-01T00:00:00.000Z`, lastBackupId: first[0]!.id, lastError: null });
    expect(await run(`${year + 3}-06-02T00:00:00.000Z`)).toEqual([]); // the same occurrence never again
    let listed = await backups();
    expect(listed.map((b) => b.trigger).sort()).toEqual(['manual', 'scheduled']);
    const served = (await cast.owner.client.get(`/api/apps/shop/backups/${first[0]!.id}`)).body;
    expect(served).toMatchObject({ trigger: 'scheduled', status: 'Completed' });

    const second = await run(`${year + 4}-01-01T00:00:00.000Z`);
    const third = await run(`${year + 5}-01-01T00:00:00.000Z`);
    expect(second).toHaveLength(1);
    expect(third).toHaveLength(1);
    listed = await backups();
    // keepLast 2: the first scheduled backup is pruned; the manual one stays.
    expect(listed.map((b) => b.id).sort()).toEqual([manual.body.id, second[0]!.id, third[0]!.id].sort());
    expect(listed.every((b) => b.status === 'Completed')).toBe(true);
    policy = (await cast.owner.client.get('/api/apps/shop/backup-policy')).body;
    expect(policy.lastBackupId).toBe(third[0]!.id);
  });

  it('records on the policy why a scheduled run started no backup, and moves on; scheduled backups never block manual ones', async () => {
    const year = new Date().getUTCFullYear();
    const appId = cast.app.id as string;
    // Another backup of the app is running: the scheduler meets its slot taken.
    const names = server.app.get<NameIndex>(NAME_INDEX);
    const token = await names.reserve(claims.backupSlot(appId), 60_000, 'a test');
    try {
      expect(await run(`${year + 6}-01-01T00:00:00.000Z`)).toEqual([]);
    } finally {
      await names.release(claims.backupSlot(appId), token);
    }
    let policy = (await owner().get('/api/apps/shop/backup-policy')).body;
    expect(policy).toMatchObject({ nextRun: `${year + 7}-01-01T00:00:00.000Z`, lastRun: `${year + 6}-01-01T00:00:00.000Z` });
    expect(policy.lastError).toMatch(/already running/);

    // Without keep rules, scheduled backups are held to the per-app limit (3 here), counted apart from manual ones.
    expect((await owner().put('/api/apps/shop/backup-policy', { schedule: YEARLY })).status).toBe(200);
    expect(await run(`${year + 7}-01-01T00:00:00.000Z`)).toHaveLength(1);
    expect((await owner().get('/api/apps/shop/backup-policy')).body.lastError).toBeNull();
    expect(await run(`${year + 8}-01-01T00:00:00.000Z`)).toEqual([]);
    policy = (await owner().get('/api/apps/shop/backup-policy')).body;
    expect(policy.nextRun).toBe(`${year + 9}-01-01T00:00:00.000Z`);
    expect(policy.lastError).toMatch(/has 3 scheduled backups, the limit is 3/);
    const manual = await owner().post('/api/apps/shop/backups', { label: 'still allowed' });
    expect(manual.status).toBe(202);
    expect((await waitForJob(owner(), `/api/apps/shop/backups/${manual.body.id}`)).status).toBe('Completed');
  });

  it('does not run the same occurrence again after a restart; retention keeps the newest successful and every manual backup', async () => {
    const year = new Date().getUTCFullYear();
    const before = (await backups()).map((b) => b.id).sort();
    const dataDir = server.dataDir;
    await server.close();
    server = await startServer({ MAX_BACKUPS_PER_APP: '3' }, dataDir);
    expect(await run(`${year + 8}-06-01T00:00:00.000Z`)).toEqual([]);
    expect((await backups()).map((b) => b.id).sort()).toEqual(before);
    expect((await owner().get('/api/apps/shop/backup-policy')).body.nextRun).toBe(`${year + 9}-01-01T00:00:00.000Z`);

    expect((await owner().put('/api/apps/shop/backup-policy', { schedule: YEARLY, keepLast: 1 })).status).toBe(200);
    const next = await run(`${year + 9}-01-01T00:00:00.000Z`);
    expect(next).toHaveLength(1);
    const after = await backups();
    expect(after[0]!.id).toBe(next[0]!.id); // newest first
    expect(after.filter((b) => b.trigger === 'scheduled').map((b) => b.id)).toEqual([next[0]!.id]);
    expect(after.filter((b) => b.trigger === 'manual').map((b) => b.label).sort()).toEqual(['by hand', 'still allowed']);
    expect(await run(`${year + 9}-01-01T00:00:00.000Z`)).toEqual([]);
  });

  it('records on the policy why a scheduled backup failed; the next good run clears it and prunes the failure', async () => {
    const year = new Date().getUTCFullYear();
    const faults = server.app.get(JobFaults).of<BackupStage>('backup');
    faults.failAt = 'events';
    let failed: string;
    try {
      const started = await run(`${year + 10}-01-01T00:00:00.000Z`);
      expect(started).toHaveLength(1);
      failed = started[0]!.id;
      expect((await owner().get(`/api/apps/shop/backups/${failed}`)).body.status).toBe('Failed');
      expect((await owner().get('/api/apps/shop/backup-policy')).body.lastError).toBe(`Backup ${failed} failed: Injected failure at backup stage "events"`);
    } finally {
      faults.failAt = undefined;
    }
    const good = await run(`${year + 11}-01-01T00:00:00.000Z`);
    expect(good).toHaveLength(1);
    expect((await owner().get(`/api/apps/shop/backups/${good[0]!.id}`)).body).toMatchObject({ status: 'Completed', trigger: 'scheduled' });
    expect((await owner().get('/api/apps/shop/backup-policy')).body.lastError).toBeNull();
    expect((await owner().get(`/api/apps/shop/backups/${failed}`)).status).toBe(404);
    expect((await backups()).filter((b) => b.trigger === 'manual')).toHaveLength(2);
  });

  it('makes partial scheduled backups when the policy gives an include', async () => {
    const other = server.client(cast.owner.client.token);
    expect((await other.post('/api/apps', { name: 'notes-only' })).status).toBe(201);
    expect((await other.post('/api/apps/notes-only/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
    expect((await other.post('/api/apps/notes-only/schemas', { name: 'drafts', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
    const set = await other.put('/api/apps/notes-only/backup-policy', { schedule: YEARLY, keepLast: 1, include: { schemas: ['notes'], assets: 'none' } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.include).toEqual({ schemas: ['notes'], contents: null, assets: 'none' });
    const started = await run(`${new Date().getUTCFullYear() + 20}-06-01T00:00:00.000Z`);
    const mine = started.filter((job) => job.appName === 'notes-only');
    expect(mine).toHaveLength(1);
    const job = (await other.get(`/api/apps/notes-only/backups/${mine[0]!.id}`)).body;
    expect(job).toMatchObject({ trigger: 'scheduled', status: 'Completed', partial: true, include: { schemas: ['notes'], contents: null, assets: 'none' } });
    // A schema named in a policy must exist when the policy is set.
    const refused = await other.put('/api/apps/notes-only/backup-policy', { schedule: YEARLY, include: { schemas: ['gone'] } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe('include.schemas: the app has no schema named "gone"');
  });
});

/**
 * A policy stored before the floor and the ceiling existed (written to the store as it was), or
 * whose limits were lowered since: the scheduler holds it to both at run time and says so.
 */
describe('scheduled backups under the floor and the ceiling', () => {
  let server: TestServer;
  let cast: Cast;
  const scheduler = () => server.app.get(BackupScheduler);
  const run = async (now: Date) => {
    const started = await scheduler().runDue(now);
    await scheduler().idle();
    return started.filter((job) => job.appName === 'pile');
  };
  const policy = async () => (await cast.owner.client.get('/api/apps/pile/backup-policy')).body;
  const scheduled = async () => ((await cast.owner.client.get('/api/apps/pile/backups')).body.items as Record<string, unknown>[]).filter((b) => b.trigger === 'scheduled');

  beforeAll(async () => {
    server = await startServer({ MAX_SCHEDULED_BACKUPS_PER_APP: '2' });
    cast = await createCast(server, 'pile');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs a stored every-second policy at most once per BACKUP_SCHEDULE_MIN_INTERVAL_MS, and takes no backup past MAX_SCHEDULED_BACKUPS_PER_APP', async () => {
    // Decades ahead, so the real timer never finds it due while the test runs.
    const start = Date.UTC(new Date().getUTCFullYear() + 30, 0, 1);
    const t = (ms: number) => new Date(start + ms);
    const minutes = 60_000;
    const created = new Date().toISOString();
    await server.app.get(BackupPoliciesService).policies.put({
      id: cast.app.id as string,
      appId: cast.app.id as string,
      appName: 'pile',
      schedule: '* * * * * *',
      keepLast: 1000,
      include: null,
      nextRun: t(0).toISOString(),
      lastRun: null,
      lastBackupId: null,
      lastError: null,
      created,
      updated: created,
      updatedBy: cast.owner.id,
    });
    // The same policy is refused when set through the API now.
    const refused = await cast.owner.client.put('/api/apps/pile/backup-policy', { schedule: '* * * * * *', keepLast: 1000 });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^schedule: runs only 1 second apart.*; keepLast: keeps up to 1000 scheduled backups; an app may keep at most 2 \(MAX_SCHEDULED_BACKUPS_PER_APP\)$/);

    expect(await run(t(0))).toHaveLength(1);
    let stored = await policy();
    expect(stored.nextRun).toBe(t(15 * minutes).toISOString());
    expect(stored.lastError).toMatch(/^The schedule "\* \* \* \* \* \*" runs more often than every 15 minutes \(BACKUP_SCHEDULE_MIN_INTERVAL_MS\), so runs closer than that to the one before are skipped; the next is at /);
    // Every second of the next quarter hour is an occurrence of the schedule; none runs.
    for (const at of [1000, 5000, 60_000, 14 * minutes + 59_000]) expect(await run(t(at)), String(at)).toEqual([]);
    expect(await scheduled()).toHaveLength(1);

    expect(await run(t(15 * minutes))).toHaveLength(1);
    expect(await scheduled()).toHaveLength(2);
    stored = await policy();
    expect(stored.nextRun).toBe(t(30 * minutes).toISOString());

    // A third would leave 3 scheduled backups (keepLast 1000 prunes none): the ceiling is 2.
    expect(await run(t(30 * minutes))).toEqual([]);
    expect(await scheduled()).toHaveLength(2);
    stored = await policy();
    expect(stored.lastError).toBe(
      'No scheduled backup was taken: app "pile" keeps 2 scheduled backups, and with one more its policy would keep 3, more than the 2 an app may keep (MAX_SCHEDULED_BACKUPS_PER_APP). Lower the policy\'s keep rules (together at most 2) or delete scheduled backups it no longer needs.',
    );
    expect(stored.nextRun).toBe(t(45 * minutes).toISOString());
    // Manual backups are not held by it.
    const manual = await cast.owner.client.post('/api/apps/pile/backups', { label: 'by hand' });
    expect(manual.status).toBe(202);
    expect((await waitForJob(cast.owner.client, `/api/apps/pile/backups/${manual.body.id}`)).status).toBe('Completed');

    // Rules within the ceiling: each run prunes back to them, so runs go on.
    expect((await cast.owner.client.put('/api/apps/pile/backup-policy', { schedule: YEARLY, keepLast: 2 })).status).toBe(200);
    for (const n of [1, 2, 3]) {
      const [job] = await run(new Date(Date.UTC(new Date(start).getUTCFullYear() + n, 0, 1)));
      expect(job, `year ${n}`).toBeDefined();
      expect((await policy()).lastError).toBeNull();
      expect((await scheduled()).map((b) => b.id)).toContain(job!.id);
      expect(await scheduled()).toHaveLength(2);
    }
  });
});
