import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { type ChildServer, startChildServer } from '../support/child-server.js';
import { waitForJob } from '../support/fixtures.js';
import { tempDir } from '../support/test-server.js';

/** Enough contents that planning a rollback of all of them, and appending it, takes a while. */
const CONTENTS = 12_000;
const BATCH = 2000;

/** Writes a ContentCreated (version 0) or ContentUpdated (version 1) for every content, offline. */
async function writeContents(dataDir: string, appId: string, schema: { id: string; name: string }, actor: string, round: 0 | 1): Promise<void> {
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  try {
    for (let from = 0; from < CONTENTS; from += BATCH) {
      const writes = Array.from({ length: BATCH }, (_, i) => {
        const contentId = `c${from + i}`;
        const data = { title: `${round === 0 ? 'original' : 'changed'} ${from + i}` };
        const event = round === 0 ? { type: 'ContentCreated', data: { contentId, schemaId: schema.id, schemaName: schema.name, data, status: 'Draft' } } : { type: 'ContentUpdated', data: { data } };
        return {
          stream: streams.child('content', appId, contentId),
          expectedVersion: round - 1,
          events: [{ ...event, metadata: { appId, actor, timestamp: new Date().toISOString(), schemaVersion: 1 } }],
        };
      });
      await store.appendMany(writes);
    }
  } finally {
    await store.close();
  }
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How many of the app's contents carry the original titles and how many the changed ones. */
async function titles(server: ChildServer): Promise<{ original: number; changed: number }> {
  const seen = { original: 0, changed: 0 };
  for (let skip = 0; ; skip += 1000) {
    const page = (await server.admin.get(`/api/apps/big/content/items?top=1000&skip=${skip}`)).body;
    for (const item of page.items as { data: { title: string } }[]) seen[item.data.title.startsWith('original') ? 'original' : 'changed'] += 1;
    if (skip + 1000 >= page.total) return seen;
  }
}

describe('a rollback killed by SIGKILL', () => {
  let server: ChildServer | undefined;
  afterEach(async () => {
    await server?.kill().catch(() => undefined);
    server = undefined;
  });

  it('leaves the app either as it was before or as it is after, never in between, and start-up says which', async () => {
    const dataDir = tempDir();
    server = await startChildServer(dataDir);
    const app = (await server.admin.post('/api/apps', { name: 'big' })).body;
    const schema = (await server.admin.post('/api/apps/big/schemas', { name: 'items', fields: [{ name: 'title', type: 'String' }] })).body;
    const admin = (await server.admin.get('/api/users/me')).body.id as string;
    await server.stop();
    await writeContents(dataDir, app.id, schema, admin, 0);

    server = await startChildServer(dataDir);
    const backup = await server.admin.post('/api/apps/big/backups', { label: 'originals' });
    const backupId = String((await waitForJob(server.admin, `/api/backups/${String(backup.body.id)}`)).id);
    await server.stop();
    await writeContents(dataDir, app.id, schema, admin, 1);

    server = await startChildServer(dataDir);
    expect(await titles(server)).toEqual({ original: 0, changed: CONTENTS });
    const outcomes: string[] = [];
    // Killed while it plans (before any write), as it writes, and once its events are in while the
    // read models catch up: each time all or nothing.
    for (const phase of ['planning', 'writing', 'projecting']) {
      const started = await server.admin.post('/api/apps/big/rollback', { backupId });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      await until(async () => {
        const job = (await server!.admin.get(`/api/apps/big/rollbacks/${String(started.body.id)}`)).body;
        // The last phase can be over before it is seen; the kill then comes just after the end.
        return job.phase === phase || (phase === 'projecting' && job.status === 'Completed') ? true : undefined;
      }, `the rollback to reach ${phase}`);
      if (phase === 'planning') {
        // Writes are held meanwhile, refused with a message, not lost.
        const refused = await server.admin.put('/api/apps/big/content/items/c1', { data: { title: 'written during the rollback' } });
        expect(refused.status).toBe(409);
        expect(String(refused.body.message)).toMatch(/^App "big" is being rolled back \(rollback [^)]+\); writes to it are refused until the rollback has finished/);
        const second = await server.admin.post('/api/apps/big/rollback', { backupId });
        expect(second.status).toBe(409);
        expect(second.body.message).toBe('A rollback of app "big" is already running; wait for it to finish');
        expect((await server.admin.delete('/api/apps/big')).status).toBe(409);
      }
      await server.kill();

      server = await startChildServer(dataDir);
      const job = (await server.admin.get(`/api/apps/big/rollbacks/${String(started.body.id)}`)).body;
      const seen = await titles(server);
      expect(seen.original + seen.changed).toBe(CONTENTS);
      if (job.status === 'Completed') expect(seen).toEqual({ original: CONTENTS, changed: 0 });
      else {
        expect(job.status).toBe('Failed');
        expect(job.error).toMatch(/server stopped during this rollback before it changed anything; the app is as it was/);
        expect(seen).toEqual({ original: 0, changed: CONTENTS });
      }
      outcomes.push(`${phase}: ${String(job.status)}`);
    }
    console.log(`rollback killed while ${outcomes.join(', while ')}`);
    expect(outcomes[0]).toBe('planning: Failed');
    expect(outcomes[2]).toBe('projecting: Completed');
    // Whatever the last kill left, a rollback run to its end gives the backup's state, and writes work again.
    const again = await server.admin.post('/api/apps/big/rollback', { backupId });
    expect((await waitForJob(server.admin, `/api/apps/big/rollbacks/${String(again.body.id)}`, 180_000)).status).toBe('Completed');
    expect(await titles(server)).toEqual({ original: CONTENTS, changed: 0 });
    expect((await server.admin.put('/api/apps/big/content/items/c1', { data: { title: 'written after the rollback' } })).status).toBe(200);
  }, 300_000);
});
