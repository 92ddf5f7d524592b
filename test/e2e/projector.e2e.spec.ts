import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { AppReplays } from '../../src/platform/projection/app-replays.service.js';
import { Projector } from '../../src/platform/projection/projector.service.js';
import { createUser, startServer, tempDir } from '../support/test-server.js';

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
