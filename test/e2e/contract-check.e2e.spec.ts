import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import { createServer } from '../../src/server.js';
import { waitForJob } from '../support/fixtures.js';
import { checkAnswers, takeContractViolations } from '../support/contract-check.js';
import { ADMIN_TOKEN, listening, tempDir, type TestServer } from '../support/test-server.js';

/**
 * Changes what a route sends on its way out, after the contract check has seen nothing yet (the
 * check wraps the response first, so it sees what this passes on): a server that breaks the
 * contract on purpose.
 */
function tamper(app: INestApplication, applies: (req: Request) => boolean, change: (text: string, res: Response) => string): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!applies(req)) return next();
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    const changed = (chunk: unknown) => (typeof chunk === 'string' || Buffer.isBuffer(chunk) ? change(chunk.toString(), res) : chunk);
    res.write = ((chunk: unknown, ...rest: unknown[]) => write(changed(chunk), ...rest)) as Response['write'];
    res.end = ((chunk: unknown, ...rest: unknown[]) => {
      const body = changed(chunk);
      if (typeof body === 'string' && !res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
      return end(body, ...rest);
    }) as Response['end'];
    next();
  });
}

describe('the contract check of the test servers', () => {
  let server: TestServer;

  beforeAll(async () => {
    const dataDir = tempDir();
    const app = await createServer(loadConfig({ DATA_DIR: dataDir, ADMIN_TOKEN, PORT: '0', HOST: '127.0.0.1' }), { quiet: true });
    checkAnswers(app);
    tamper(app, (req) => req.path === '/api/users/me' && req.get('x-break') === 'type', (text) => text.replace('"admin":true', '"admin":"yes"'));
    tamper(app, (req) => req.path === '/api/users/me' && req.get('x-break') === 'status', (text, res) => ((res.statusCode = 202), text));
    tamper(app, (req) => req.path === '/api/apps' && req.method === 'GET', (text) => text.replace('"name":', '"secret":"leaked","name":'));
    tamper(app, (req) => req.path === '/api/apps/kept', (text) => text.replace(/"version":\d+,/, ''));
    tamper(app, (req) => req.path.endsWith('/events'), (text) => text.replaceAll('"partial":false', '"partial":"no"'));
    server = await listening(app, dataDir);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('passes answers that keep the contract', async () => {
    expect((await server.admin.get('/api/users/me')).status).toBe(200);
    expect((await server.admin.post('/api/apps', { name: 'kept' })).status).toBe(201);
    expect((await server.admin.get('/api/apps/nope')).status).toBe(404);
    expect(takeContractViolations()).toEqual([]);
  });

  it('fails an answer with a field of the wrong type', async () => {
    expect((await server.admin.get('/api/users/me', { 'x-break': 'type' })).body.admin).toBe('yes');
    const found = takeContractViolations();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^GET \/api\/users\/me answered 200 \(users\.me\): admin: /);
  });

  it('fails an answer with a field the contract does not name, and one that lacks a field', async () => {
    expect((await server.admin.get('/api/apps')).body.items[0].secret).toBe('leaked');
    expect((await server.admin.get('/api/apps/kept')).body.version).toBeUndefined();
    const found = takeContractViolations();
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^GET \/api\/apps answered 200 \(apps\.list\): items\.0: .*secret/);
    expect(found[1]).toMatch(/^GET \/api\/apps\/kept answered 200 \(apps\.get\): version: /);
  });

  it('fails a status the contract does not name for the route', async () => {
    expect((await server.admin.get('/api/users/me', { 'x-break': 'status' })).status).toBe(202);
    expect(takeContractViolations()).toEqual([expect.stringMatching(/^GET \/api\/users\/me answered 202 \(users\.me\): status 202 is not one the contract names/)]);
  });

  it('fails an event of a job stream that leaves the job’s schema', async () => {
    const backup = await server.admin.post('/api/apps/kept/backups', {});
    expect(backup.status).toBe(202);
    await waitForJob(server.admin, `/api/backups/${backup.body.id}`);
    const stream = await fetch(`${server.url}/api/backups/${backup.body.id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await stream.text()).toContain('"partial":"no"');
    const found = takeContractViolations();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/answered 200 \(backups\.events\): event job: partial: /);
  });
});
