import { afterEach, describe, expect, it } from 'vitest';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { EventStoreStandin } from '../support/esdb-standin/standin-server.js';
import { until, waitForJob } from '../support/fixtures.js';
import { tempDir } from '../support/test-server.js';

/** Enough contents that the rollback writes many streams, one append each. */
const CONTENTS = 300;

async function titles(server: ChildServer): Promise<{ original: number; changed: number }> {
  const page = (await server.admin.get('/api/apps/big/content/items?top=1000')).body as { items: { data: { title: string } }[] };
  const seen = { original: 0, changed: 0 };
  for (const item of page.items) seen[item.data.title.startsWith('original') ? 'original' : 'changed'] += 1;
  return seen;
}

describe('a rollback on EventStoreDB killed by SIGKILL part-way through its writes', () => {
  let server: ChildServer | undefined;
  let standin: EventStoreStandin | undefined;
  afterEach(async () => {
    await server?.kill().catch(() => undefined);
    await standin?.close();
  });

  it('is finished at the next start: every stream rolled back once, the job Completed and saying so', async () => {
    // The server runs as its own process on the stand-in (EVENTSTORE_URL), which lives in the test process.
    standin = await EventStoreStandin.start();
    const dataDir = tempDir();
    const env = { EVENTSTORE_URL: standin.url };
    server = await startChildServer(dataDir, env);
    const app = (await server.admin.post('/api/apps', { name: 'big' })).body;
    const schema = (await server.admin.post('/api/apps/big/schemas', { name: 'items', fields: [{ name: 'title', type: 'String' }] })).body;
    const actor = (await server.admin.get('/api/users/me')).body.id as string;
    const metadata = { appId: app.id, actor, timestamp: new Date().toISOString(), schemaVersion: 1 };
    // Written straight into the store (another process's writes, as far as the server can tell).
    for (let i = 0; i < CONTENTS; i += 1) {
      const data = { title: `original ${i}` };
      standin.seed(streams.child('content', app.id, `c${i}`), [{ type: 'ContentCreated', data: { contentId: `c${i}`, schemaId: schema.id, schemaName: schema.name, data, status: 'Draft' }, metadata }]);
    }
    await until(async () => ((await titles(server!)).original === CONTENTS ? true : undefined), 'the contents to be projected');
    const backup = await server.admin.post('/api/apps/big/backups', { label: 'originals' });
    const backupId = String((await waitForJob(server.admin, `/api/backups/${String(backup.body.id)}`)).id);
    for (let i = 0; i < CONTENTS; i += 1) standin.seed(streams.child('content', app.id, `c${i}`), [{ type: 'ContentUpdated', data: { data: { title: `changed ${i}` } }, metadata }]);
    await until(async () => ((await titles(server!)).changed === CONTENTS ? true : undefined), 'the changes to be projected');

    // The process dies as it is about to write its 101st stream.
    const dying = server;
    standin.inject({ on: 'append', stream: /^content-/, skip: 100, kind: 'unavailable', before: () => dying.process.kill('SIGKILL') });
    const started = await server.admin.post('/api/apps/big/rollback', { backupId });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    await new Promise<void>((resolve) => (dying.process.exitCode !== null ? resolve() : dying.process.once('exit', () => resolve())));
    standin.clearFaults();
    const reverted = () => standin!.log.records.filter((r) => r.type === 'ContentReverted');
    expect(reverted()).toHaveLength(100);

    server = await startChildServer(dataDir, env);
    const job = (await server.admin.get(`/api/apps/big/rollbacks/${String(started.body.id)}`)).body;
    expect(job.status, JSON.stringify(job.log)).toBe('Completed');
    expect(job.log.at(-1).message).toMatch(/^The server stopped while the rollback was writing; it was finished at start-up \(\d+ more events appended\)/);
    expect(await titles(server)).toEqual({ original: CONTENTS, changed: 0 });
    // Each content rolled back exactly once: the streams written before the kill were not written again.
    expect(reverted()).toHaveLength(CONTENTS);
    expect(new Set(reverted().map((r) => r.stream)).size).toBe(CONTENTS);
    expect(standin.log.records.filter((r) => r.type === 'AppRolledBack')).toHaveLength(1);
    expect((await server.admin.put('/api/apps/big/content/items/c1', { data: { title: 'written after the rollback' } })).status).toBe(200);
  }, 180_000);
});
