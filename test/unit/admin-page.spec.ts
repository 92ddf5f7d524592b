import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { adminPageRouter } from '../../src/platform/http/admin-page.middleware.js';
import { tempDir } from '../support/test-server.js';

function appWith(dir: string) {
  const app = express();
  app.use('/admin', adminPageRouter(dir));
  return app;
}

describe('admin page static files', () => {
  it('answers 503 saying to run the build when dist/admin was not built', async () => {
    const res = await request(appWith(join(tempDir(), 'missing'))).get('/admin');
    expect(res.status).toBe(503);
    expect(res.body.message).toContain('npm run build');
  });

  it('caches hashed assets for a year, revalidates index.html, and answers client routes with the page', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>page</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
    const app = appWith(dir);

    const js = await request(app).get('/admin/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await request(app).get('/admin/assets/index-abc123.css')).headers['content-type']).toBe('text/css; charset=utf-8');

    for (const path of ['/admin', '/admin/', '/admin/index.html', '/admin/apps/shop', '/admin/restores/1234']) {
      const page = await request(app).get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type'], path).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control'], path).toBe('no-cache');
      expect(page.text, path).toContain('<title>page</title>');
    }
    expect((await request(app).get('/admin/assets/gone-000.js')).status).toBe(404);
    expect((await request(app).post('/admin').send({})).status).toBe(405);
  });
});
