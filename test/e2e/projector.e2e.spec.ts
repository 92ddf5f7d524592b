import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { AppReplays } from '../../src/eventsourcing/app-replays.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { freePort, startChildServer } from '../support/child-server.js';
import { dumpReadModels } from '../support/read-models.js';
import { ADMIN_TOKEN, createUser, startServer, tempDir } from '../support/test-server.js';

describe('projector', () => {
  it('catches up at start-up with events appended while it was stopped', async () => {
    const dataDir = tempDir();
    let server = await startServer({}, dataDir);
    const created = await server.admin.post('/api/apps', { name: 'catch-up', label: 'Before' });
    const appId = created.body.id as string;
    const version = created.body.version as number;
    await server.close();

    // What a crash between an append and its projection leaves behind: events the read side never saw.
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    for (let i = 0; i < 450; i++) {
      await store.append(
        streams.app(appId),
        [{ type: 'AppUpdated', data: { label: `Label ${i}`, description: `d${i}` }, metadata: { appId, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 } }],
        version + i,
      );
    }
    await store.close();

    server = await startServer({}, dataDir);
    try {
      const app = await server.admin.get('/api/apps/catch-up');
      expect(app.body).toMatchObject({ label: 'Label 449', description: 'd449', version: version + 450 });
      const health = await server.client().get('/health');
      expect(health.body.projectionLag).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('keeps the progress of a long catch-up over few documents across a kill, and resumes from it to the same read models', async () => {
    const dataDir = tempDir();
    const server = await startServer({}, dataDir);
    const created = await server.admin.post('/api/apps', { name: 'long-outage', label: 'Before' });
    const appId = created.body.id as string;
    const version = created.body.version as number;
    await server.close();
    // A long backlog that touches one document: the bulk chunk never fills up with documents.
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    const meta = { appId, actor: 'system', timestamp: new Date().toISOString(), schemaVersion: 1 };
    for (let batch = 0; batch < 40; batch++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({ type: 'AppUpdated', data: { label: `Label ${batch * 1000 + i}` }, metadata: meta }));
      await store.append(streams.app(appId), events, version + batch * 1000);
    }
    const head = await store.headPosition();
    await store.close();
    const uninterrupted = tempDir();
    cpSync(dataDir, uninterrupted, { recursive: true });
    const checkpointOf = (dir: string) => {
      const db = new Database(join(dir, 'read.db'), { readonly: true });
      try {
        return (db.prepare(`SELECT position FROM checkpoints WHERE name = 'projector'`).get() as { position: number } | undefined)?.position ?? 0;
      } finally {
        db.close();
      }
    };
    const before = checkpointOf(dataDir);
    expect(head - before).toBe(40_000);

    // Killed once its saved checkpoint shows more than half of the backlog done.
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(await freePort()), HOST: '127.0.0.1', ADMIN_TOKEN, LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    while (checkpointOf(dataDir) < before + 20_000) {
      if (child.exitCode !== null) throw new Error('The server exited during its catch-up');
      if (Date.now() > deadline) throw new Error(`The checkpoint did not pass half of the backlog (at ${checkpointOf(dataDir)} of ${head})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await exited;
    const saved = checkpointOf(dataDir);
    expect(saved).toBeGreaterThanOrEqual(before + 20_000);
    expect(saved).toBeLessThan(head);

    // The next start goes on from there, not from the beginning.
    const resumed = await startChildServer(dataDir, { LOG_LEVEL: 'log' });
    await resumed.stop();
    expect(resumed.output()).toContain(`Catching up projections from position ${saved} to ${head}`);
    const whole = await startChildServer(uninterrupted);
    await whole.stop();
    const models = dumpReadModels(dataDir, []);
    expect((models.docs['apps']![appId] as { label: string }).label).toBe('Label 39999');
    expect(models).toEqual(dumpReadModels(uninterrupted, []));
  });

  it('rebuilds all projections, or one app, to exactly the same answers', async () => {
    const server = await startServer();
    try {
      const dev = await createUser(server, 'dev@example.com');
      await dev.client.post('/api/apps', { name: 'one', label: 'One' });
      await dev.client.post('/api/apps', { name: 'two' });
      await dev.client.put('/api/apps/one', { description: 'first' });
      await server.admin.post('/api/users', { email: 'reader@example.com' });
      await dev.client.post('/api/apps/one/contributors', { email: 'reader@example.com', role: 'Reader' });
      await dev.client.delete('/api/apps/two');

      const snapshot = async () => ({
        apps: (await server.admin.get('/api/apps')).body,
        one: (await dev.client.get('/api/apps/one')).body,
        two: (await dev.client.get('/api/apps/two')).status,
        users: (await server.admin.get('/api/users')).body,
        history: (await dev.client.get('/api/apps/one/events')).body,
      });
      const before = await snapshot();
      const projector = server.app.get(Projector);
      expect(await projector.rebuildAll()).toBeGreaterThan(10);
      expect(await snapshot()).toEqual(before);
      await server.app.get(AppReplays).rebuildApp(before.one.id);
      expect(await snapshot()).toEqual(before);
    } finally {
      await server.close();
    }
  });
});
