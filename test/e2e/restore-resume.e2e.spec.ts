import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { claimsOf, eventsOf, filesUnder, job, logOf, PROJECTIONS, readModelsOf, userCount } from '../support/restore-state.js';
import { until, waitForJob } from '../support/fixtures.js';
import { growOffline } from '../support/grow.js';
import { ADMIN_TOKEN, tempDir } from '../support/test-server.js';
import { runCli } from '../support/cli-runner.js';
import { readEventStream, type SseMessage } from '../support/sse.js';

/** Events of the mix workload (contents, schemas, assets with files, contributors): enough to kill a restore at 10, 50 and 95 %. */
const EVENTS = 12_000;
describe('restores that resume after the server stopped (real processes, SIGKILL and SIGTERM)', () => {
  let server: ChildServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('a restore killed at about 10 %, 30 % (SIGTERM), 50 % and 95 % resumes each time to the read models, events, files and claims of one never interrupted', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: EVENTS, apps: ['shop'] });
    server = await startChildServer(dataDir);
    const backup = await server.admin.post('/api/apps/shop/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');

    // The reference: the same archive restored without interruption.
    const whole = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'whole' });
    expect(whole.status, JSON.stringify(whole.body)).toBe(202);
    const reference = await waitForJob(server.admin, `/api/restore/${whole.body.id}`);
    expect(reference.status, JSON.stringify(reference['log'])).toBe('Completed');
    const usersBefore = userCount(dataDir);

    const started = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'resumed' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    const total = EVENTS;
    let appId = '';
    let killedAt: number[] = [];
    /** Stops the server once the restore has written `fraction` of the events; returns how many were written then. */
    const stopAt = async (fraction: number, how: 'SIGKILL' | 'SIGTERM') => {
      const reached = await until(async () => {
        const current = await job(server!, id);
        expect(current['status'], JSON.stringify(current['log'])).not.toMatch(/Failed|Completed/);
        return (current['restoredEvents'] as number) >= fraction * total ? current : undefined;
      }, `the restore to reach ${fraction * 100} %`, 120_000, 5);
      appId = reached['appId'] as string;
      if (how === 'SIGKILL') await server!.kill();
      else await server!.stop();
      killedAt = [...killedAt, reached['restoredEvents'] as number];
      const filesThen = filesUnder(join(dataDir, 'blobs', 'assets', appId));
      server = await startChildServer(dataDir);
      return filesThen;
    };

    const stored: Map<string, number>[] = [];
    stored.push(await stopAt(0.1, 'SIGKILL'));
    stored.push(await stopAt(0.3, 'SIGTERM'));
    stored.push(await stopAt(0.5, 'SIGKILL'));
    stored.push(await stopAt(0.95, 'SIGKILL'));

    const done = await waitForJob(server.admin, `/api/restore/${id}`);
    const log = logOf(done);
    expect(done['status'], JSON.stringify(log)).toBe('Completed');
    expect(done['restoredEvents']).toBe(total);
    expect(done['restoredAssets']).toBe(reference['restoredAssets']);
    // Asked before the comparisons below, which block this process for seconds: a request after them may pick a
    // keep-alive connection the server is closing meanwhile (undici: "other side closed").
    expect((await server.admin.get('/api/apps/resumed')).status).toBe(200);
    // Each start resumed from the journal, after at least what was written when it was stopped; the archive was not checked again.
    const resumedAfter = log.filter((line) => line.startsWith('Resuming after event')).map((line) => Number(/Resuming after event (\d+)/.exec(line)![1]));
    expect(resumedAfter).toHaveLength(4);
    resumedAfter.forEach((after, i) => expect(after).toBeGreaterThanOrEqual(killedAt[i]!));
    expect(log.filter((line) => line.includes('its checks are not run again'))).toHaveLength(4);
    expect(log.filter((line) => line.startsWith('Checking the archive'))).toHaveLength(1);
    expect(log.some((line) => line.startsWith('Interrupted: The server was stopped (SIGTERM)'))).toBe(true);

    // No event doubled or missing: the same history as the uninterrupted restore, event for event.
    const expectedEvents = await eventsOf(dataDir, reference['appId'] as string, 'whole');
    const resumedEvents = await eventsOf(dataDir, appId, 'resumed');
    expect(resumedEvents.length).toBe(total + 1);
    expect(resumedEvents).toEqual(expectedEvents);
    // The same read models, document for document, and the same full-text index.
    expect(readModelsOf(dataDir, appId, 'resumed')).toEqual(readModelsOf(dataDir, reference['appId'] as string, 'whole'));
    // The same files, and no file stored before a stop was written again after it.
    const files = filesUnder(join(dataDir, 'blobs', 'assets', appId));
    expect([...files.keys()].sort()).toEqual([...filesUnder(join(dataDir, 'blobs', 'assets', reference['appId'] as string)).keys()].sort());
    for (const before of stored) for (const [file, mtime] of before) expect(files.get(file), file).toBe(mtime);
    // One claim on the name, committed to the new app; no user created twice.
    expect(claimsOf(dataDir, 'resumed')).toEqual([{ state: 'committed', owner: appId }]);
    expect(userCount(dataDir)).toBe(usersBefore);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
  }, 300_000);

  it('refuses to resume from an archive that changed, and a cancel leaves nothing of the interrupted restore', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 6000, apps: ['shop'] });
    server = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    const backup = await server.admin.post('/api/apps/shop/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const archive = await server.admin.bytes(`/api/backups/${backup.body.id}/archive`);
    expect(archive.status).toBe(200);
    const usersBefore = userCount(dataDir);

    const form = new FormData();
    form.append('name', 'copy');
    form.append('file', new Blob([archive.bytes]), 'shop.zip');
    const started = await server.admin.request('POST', '/api/restore', form);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    const reached = await until(async () => {
      const current = await job(server!, id);
      return (current['restoredEvents'] as number) >= 2000 ? current : undefined;
    }, 'the restore to write events', 120_000, 5);
    const appId = reached['appId'] as string;
    await server.kill();

    server = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    const interrupted = await job(server, id);
    expect(interrupted['status']).toBe('Interrupted');
    expect(logOf(interrupted).at(-1)).toMatch(/server stopped during this restore .*resumes from its journal/);
    // It keeps its name: nobody else can take it meanwhile.
    const taken = await server.admin.post('/api/apps', { name: 'copy' });
    expect(taken.status).toBe(409);
    expect(claimsOf(dataDir, 'copy')).toHaveLength(1);
    expect((await server.admin.get('/api/apps/copy')).status).toBe(404);

    // The kept upload is changed behind the restore's back: the resume is refused and the restore stays Interrupted.
    const kept = readdirSync(join(dataDir, 'tmp'));
    expect(kept).toHaveLength(1);
    const keptFile = join(dataDir, 'tmp', kept[0]!);
    const bytes = readFileSync(keptFile);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0xff;
    writeFileSync(keptFile, bytes);
    const cli = (args: string[]) => runCli(args, { env: { APPVAULT_URL: server!.url, APPVAULT_TOKEN: ADMIN_TOKEN } });
    const resumed = await cli(['restore', 'resume', id, '--follow', '--no-progress']);
    expect(resumed.code, resumed.stderr).not.toBe(0);
    expect(resumed.stderr).toMatch(/is Interrupted: The archive changed since this restore began .*appvault restore cancel/);
    const refused = await job(server, id);
    expect(refused['status']).toBe('Interrupted');
    expect(refused['error']).toMatch(/The archive changed since this restore began/);
    expect((await server.admin.get('/api/apps/copy')).status).toBe(404);

    // Cancelled: nothing of it remains, as after a failure.
    const cancelled = await cli(['restore', 'cancel', id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(/Cancelled restore .*: nothing of it remains, and the name copy is free again/);
    const after = await job(server, id);
    expect(after['status']).toBe('Failed');
    expect(after['error']).toMatch(/Cancelled/);
    expect((await server.admin.delete(`/api/restore/${id}`)).status).toBe(409);
    expect((await server.admin.post(`/api/restore/${id}/resume`, {})).status).toBe(409);
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    let left = 0;
    for await (const _ of store.readApp(appId)) left += 1;
    await store.close();
    expect(left).toBe(0);
    const models = readModelsOf(dataDir, appId, 'copy');
    for (const collection of PROJECTIONS) expect(models[collection], collection).toEqual([]);
    expect(filesUnder(join(dataDir, 'blobs', 'assets', appId)).size).toBe(0);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
    expect(userCount(dataDir)).toBe(usersBefore);
    expect(claimsOf(dataDir, 'copy')).toEqual([]);
    expect((await server.admin.post('/api/apps', { name: 'copy' })).status).toBe(201);
  }, 180_000);
  it('an event stream ends when its restore becomes Interrupted (SIGTERM under it, and a stream opened later); the resumed restore is followed by a new stream to Completed', async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: 6000, apps: ['shop'] });
    server = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    const backup = await server.admin.post('/api/apps/shop/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const started = await server.admin.post('/api/restore', { backupId: backup.body.id, name: 'followed' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.id as string;
    // A connection the server drops without `end` counts as a message, so the assertion below says what happened.
    const following = readEventStream(`${server.url}/api/restore/${id}/events`, ADMIN_TOKEN).then(
      (stream) => stream.messages,
      (error: unknown): SseMessage[] => [{ event: 'dropped without end', data: String(error) }],
    );
    await until(async () => ((await job(server!, id))['restoredEvents'] as number) >= 1000 || undefined, 'the restore to write events', 120_000, 5);
    await server.stop();

    // The stream open during the SIGTERM saw the restore become Interrupted, then `end`, and ended (the shutdown waited for it, not for its deadline).
    const during = await following;
    expect(during.at(-1)).toEqual({ event: 'end', data: { status: 'Interrupted' } });
    expect((during.at(-2)!.data as { status: string }).status).toBe('Interrupted');

    server = await startChildServer(dataDir, { RESUME_RESTORES_AT_STARTUP: 'false' });
    expect((await job(server, id))['status']).toBe('Interrupted');
    const later = await readEventStream(`${server.url}/api/restore/${id}/events`, ADMIN_TOKEN);
    expect(later.messages.map((m) => m.event)).toEqual(['job', 'end']);
    expect(later.messages.at(-1)!.data).toEqual({ status: 'Interrupted' });

    const resumed = await server.admin.post(`/api/restore/${id}/resume`, {});
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(202);
    const after = await readEventStream(`${server.url}/api/restore/${id}/events`, ADMIN_TOKEN);
    expect(after.messages.at(-1), JSON.stringify(after.messages.at(-2))).toEqual({ event: 'end', data: { status: 'Completed' } });
  }, 180_000);
});
