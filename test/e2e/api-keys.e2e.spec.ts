import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCast, createUser, startServer, type TestServer } from '../support/test-server.js';

describe('API keys: issue and rotate', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lets an admin issue a new key for any user; the old key stops at once', async () => {
    const user = await createUser(server, 'rotate-me@example.com');
    expect((await user.client.get('/api/users/me')).status).toBe(200);
    const issued = await server.admin.post(`/api/users/${user.id}/api-key`);
    expect(issued.status).toBe(201);
    expect(Object.keys(issued.body)).toEqual(['apiKey']);
    expect(issued.body.apiKey).toMatch(/^av_[A-Za-z0-9_-]{43}$/);
    expect((await user.client.get('/api/users/me')).status).toBe(401);
    const fresh = server.client(issued.body.apiKey);
    expect((await fresh.get('/api/users/me')).body).toMatchObject({ id: user.id, email: 'rotate-me@example.com' });
    // The key is shown only in that answer: never in a user's view.
    expect(JSON.stringify((await server.admin.get('/api/users')).body)).not.toContain(issued.body.apiKey);
  });

  it('lets a user rotate their own key, and nobody else\'s', async () => {
    const user = await createUser(server, 'self@example.com');
    const other = await createUser(server, 'other@example.com');
    expect((await user.client.post(`/api/users/${other.id}/api-key`)).status).toBe(403);
    expect((await other.client.get('/api/users/me')).status).toBe(200);
    const rotated = await user.client.post('/api/users/me/api-key');
    expect(rotated.status).toBe(201);
    expect((await user.client.get('/api/users/me')).status).toBe(401);
    expect((await server.client(rotated.body.apiKey).get('/api/users/me')).body.id).toBe(user.id);
    // Twice in a row: each key replaces the one before.
    const again = await server.client(rotated.body.apiKey).post('/api/users/me/api-key');
    expect(again.body.apiKey).not.toBe(rotated.body.apiKey);
    expect((await server.client(rotated.body.apiKey).get('/api/users/me')).status).toBe(401);
    expect((await server.client(again.body.apiKey).get('/api/users/me')).status).toBe(200);
  });

  it('answers 404 for an unknown user and 401 without a key', async () => {
    const missing = await server.admin.post('/api/users/no-such-user/api-key');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('User no-such-user does not exist');
    expect((await server.client().post('/api/users/me/api-key')).status).toBe(401);
  });

  it('gives a user created without a key (as restores create them) a first key', async () => {
    const { UsersService } = await import('../../src/users/users.service.js');
    const users = server.app.get(UsersService);
    const created = await users.createForRestore('restored-user-1', 'restored@example.com', 'Restored', 'system');
    expect(created.apiKeyHash).toBeFalsy();
    const issued = await server.admin.post('/api/users/restored-user-1/api-key');
    expect(issued.status).toBe(201);
    expect((await server.client(issued.body.apiKey).get('/api/users/me')).body).toMatchObject({ id: 'restored-user-1', email: 'restored@example.com' });
  });

  // The key's user, the app and the schema a write names are looked up on every request and kept
  // in memory between writes (the read store's look-up cache): each change below must take effect
  // on the very next request, after the same look-ups were served from memory.
  it('refuses at once, after a run of writes, a rotated key, a removed contributor, a deleted schema and app', async () => {
    const { owner, editor } = await createCast(server, 'kept');
    expect((await owner.client.post('/api/apps/kept/schemas', { name: 'notes', fields: [{ name: 'title', type: 'String', required: true }] })).status).toBe(201);
    const write = (client: typeof owner.client, title: string) => client.post('/api/apps/kept/content/notes', { data: { title } });
    for (let i = 0; i < 3; i++) expect((await write(editor.client, `editor ${i}`)).status).toBe(201);

    const rotated = await server.admin.post(`/api/users/${editor.id}/api-key`);
    expect(rotated.status).toBe(201);
    expect((await write(editor.client, 'with the old key')).status).toBe(401);
    const renewed = server.client(rotated.body.apiKey);
    expect((await write(renewed, 'with the new key')).status).toBe(201);

    expect((await owner.client.delete(`/api/apps/kept/contributors/${editor.id}`)).status).toBe(200);
    const removed = await write(renewed, 'no longer a contributor');
    expect(removed.status).toBe(403);
    expect(removed.body.message).toBe('You are not a contributor of app "kept"');

    expect((await write(owner.client, 'owner')).status).toBe(201);
    expect((await owner.client.delete('/api/apps/kept/schemas/notes')).status).toBe(204);
    const noSchema = await write(owner.client, 'schema gone');
    expect(noSchema.status).toBe(404);
    expect(noSchema.body.message).toBe('Schema "notes" does not exist in this app');

    expect((await owner.client.delete('/api/apps/kept')).status).toBe(204);
    const noApp = await owner.client.get('/api/apps/kept');
    expect(noApp.status).toBe(404);
    expect(noApp.body.message).toBe('App "kept" does not exist');
  });
});

