import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { startServer, type TestServer } from '../support/test-server.js';

/** One paging rule, one strictness rule and one voice for errors, on every route. */
describe('one style for every list and every body', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
    const admin = server.admin;
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) expect((await admin.post('/api/users', { email })).status).toBe(201);
    for (const name of ['style', 'style-two', 'style-three']) expect((await admin.post('/api/apps', { name })).status).toBe(201);
    for (const name of ['alpha', 'beta', 'gamma']) {
      expect((await admin.post('/api/apps/style/schemas', { name, fields: [{ name: 'title', type: 'String' }] })).status).toBe(201);
    }
    for (let i = 0; i < 3; i++) expect((await admin.post('/api/apps/style/content/alpha', { data: { title: `t${i}` } })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await admin.post('/api/apps/style/assets', fileForm(Buffer.from(`file ${i}`), `f${i}.txt`, 'text/plain'))).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const backup = await admin.post('/api/apps/style/backups', { label: `b${i}` });
      expect(backup.status).toBe(202);
      expect((await waitForJob(admin, `/api/apps/style/backups/${backup.body.id}`)).status).toBe('Completed');
    }
    const backups = await admin.get('/api/apps/style/backups');
    for (const [i, backup] of backups.body.items.slice(0, 3).entries()) {
      const restore = await admin.post('/api/restore', { backupId: backup.id, name: `style-copy-${i}` });
      expect(restore.status).toBe(202);
      expect((await waitForJob(admin, `/api/restore/${restore.body.id}`)).status).toBe('Completed');
    }
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  const lists = [
    '/api/users',
    '/api/apps',
    '/api/apps/style/schemas',
    '/api/apps/style/content/alpha',
    '/api/apps/style/assets',
    '/api/apps/style/backups',
    '/api/backups',
    '/api/restore',
  ];

  it.each(lists)('%s pages with top and skip, answers { total, items } and refuses bad values in the same words', async (path) => {
    const all = await server.admin.get(path);
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(all.body.items.length);
    expect(all.body.total).toBeGreaterThanOrEqual(3);
    const page = await server.admin.get(`${path}?top=1&skip=1`);
    expect(page.body).toEqual({ total: all.body.total, items: [all.body.items[1]] });
    expect((await server.admin.get(`${path}?skip=${all.body.total}`)).body).toEqual({ total: all.body.total, items: [] });
    expect((await server.admin.get(`${path}?top=1000`)).status).toBe(200);
    for (const [query, message] of [
      ['top=0', 'top: must be a whole number from 1 to 1000'],
      ['top=1001', 'top: must be a whole number from 1 to 1000'],
      ['top=abc', 'top: must be a whole number from 1 to 1000'],
      ['top=1.5', 'top: must be a whole number from 1 to 1000'],
      ['top=1&top=2', 'top: must be a whole number from 1 to 1000, given once'],
      ['skip=-1', 'skip: must be a whole number 0 or more'],
    ]) {
      const res = await server.admin.get(`${path}?${query}`);
      expect(res.status, `${path}?${query}`).toBe(400);
      expect(res.body, `${path}?${query}`).toEqual({ statusCode: 400, error: 'Bad Request', message });
    }
  });

  it('pages the history with after and take under the same bounds and words', async () => {
    const all = await server.admin.get('/api/apps/style/events?take=1000');
    expect(all.status).toBe(200);
    const page = await server.admin.get('/api/apps/style/events?after=2&take=3');
    expect(page.body.items).toEqual(all.body.items.slice(2, 5));
    for (const [query, message] of [
      ['take=0', 'take: must be a whole number from 1 to 1000'],
      ['take=1001', 'take: must be a whole number from 1 to 1000'],
      ['after=-1', 'after: must be a whole number 0 or more'],
    ]) {
      const res = await server.admin.get(`/api/apps/style/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.message, query).toBe(message);
    }
  });

  const bodies: Array<[string, string, Record<string, unknown>]> = [
    ['POST', '/api/users', { email: 'new@example.com', role: 'admin' }],
    ['POST', '/api/apps', { name: 'fresh', encrypt: true }],
    ['PUT', '/api/apps/style', { label: 'x', owner: 'me' }],
    ['POST', '/api/apps/style/contributors', { email: 'a@example.com', role: 'Reader', until: 'tomorrow' }],
    ['POST', '/api/apps/style/schemas', { name: 'delta', fields: [], hidden: true }],
    ['POST', '/api/apps/style/schemas/alpha/fields', { name: 'extra', type: 'String', unique: true }],
    ['POST', '/api/apps/style/content/alpha', { data: { title: 'x' }, publish: true }],
    ['PUT', '/api/apps/style/content/alpha/none/status', { status: 'Published', at: 'now' }],
    ['POST', '/api/apps/style/backups', { label: 'l', encrypt: true }],
    ['POST', '/api/restore', { backupId: 'x', name: 'y', overwrite: true }],
  ];

  it.each(bodies)('%s %s refuses an unknown key with a 400 that names it, and writes nothing', async (method, path, body) => {
    const before = await server.admin.get('/api/apps/style/events?take=1000');
    const unknown = Object.keys(body).at(-1)!;
    const res = await server.admin.request(method, path, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: `unknown field "${unknown}"` });
    expect((await server.admin.get('/api/apps/style/events?take=1000')).body.items.length).toBe(before.body.items.length);
    expect((await server.admin.get('/api/apps')).body.items.map((app: { name: string }) => app.name)).not.toContain('fresh');
  });

  it('says what is missing or wrong in the same voice', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/api/apps', {}, 'name: is required'],
      ['/api/apps', { name: 7 }, 'name: must be a string'],
      ['/api/apps/style/backups', { label: 'x'.repeat(201) }, 'label: must be at most 200 characters'],
      ['/api/apps/style/contributors', { email: 'a@example.com', role: 'Boss' }, 'role: must be one of Owner, Developer, Editor, Reader'],
    ];
    for (const [path, body, message] of cases) {
      const res = await server.admin.post(path, body);
      expect(res.status, path).toBe(400);
      expect(res.body.message, path).toBe(message);
    }
  });

  it('refuses control characters in names, labels and display names with a 400 naming the field, writing nothing', async () => {
    const admin = server.admin;
    const history = async () => (await admin.get('/api/apps/style/events?take=1000')).body.items.length;
    const before = await history();
    const users = (await admin.get('/api/users')).body.total;
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/apps', { name: 'escaped', label: 'Shop\u001b]0;owned\u0007' }, 'label: contains a control character (U+001B); it must be plain text on one line'],
      ['PUT', '/api/apps/style', { label: 'x\u009b2J' }, 'label: contains a control character (U+009B); it must be plain text on one line'],
      ['PUT', '/api/apps/style', { label: 'Invoice \u202eFDP.exe' }, 'label: contains a control character (U+202E); it must be plain text on one line'],
      ['PUT', '/api/apps/style', { description: 'two\r\nlines' }, 'description: contains a control character (U+000D); only line breaks and tabs are allowed'],
      ['POST', '/api/users', { email: 'x@example.com', displayName: 'Ada\n[Nest] 1 - LOG forged' }, 'displayName: contains a control character (U+000A); it must be plain text on one line'],
      ['POST', '/api/users', { email: 'x\u0085@example.com' }, 'email: contains a control character (U+0085); it must be plain text on one line'],
      ['POST', '/api/apps/style/contributors', { email: 'a@example.com\u0000', role: 'Reader' }, 'email: contains a control character (U+0000); it must be plain text on one line'],
      ['POST', '/api/apps/style/backups', { label: 'nightly\u001b[2J' }, 'label: contains a control character (U+001B); it must be plain text on one line'],
    ];
    for (const [method, path, body, message] of cases) {
      const res = await admin.request(method, path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.message, `${path} ${JSON.stringify(body)}`).toBe(message);
    }
    // A file name comes in the multipart part's header: raw (UTF-8, as browsers send it) or percent-encoded
    // in `filename*` (RFC 5987, which can spell any character); an escape or a bidirectional override is refused.
    const encoded = (fileName: string) => {
      const boundary = 'control-test';
      const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${encodeURIComponent(fileName)}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${boundary}--\r\n`;
      return fetch(`${server.url}/api/apps/style/assets`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    };
    for (const [upload, found] of [
      [() => encoded('notes\u001b]0;x\u0007.txt'), 'U+001B'],
      [() => encoded('page\u009b2J.txt'), 'U+009B'],
      [() => fetch(`${server.url}/api/apps/style/assets`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}` }, body: fileForm(Buffer.from('x'), 'invoice\u202etxt.exe', 'text/plain') }), 'U+202E'],
    ] as const) {
      const res = await upload();
      const body = (await res.json()) as { message: string };
      expect(res.status, found).toBe(400);
      expect(body.message, found).toBe(`file: the file name contains a control character (${found}); it must be plain text on one line`);
    }
    expect(await history()).toBe(before);
    expect((await admin.get('/api/users')).body.total).toBe(users);
    expect((await admin.get('/api/apps')).body.items.map((app: { name: string }) => app.name)).not.toContain('escaped');
    // Plain text passes, line breaks and tabs in a description included.
    const fine = await admin.put('/api/apps/style', { label: 'Café 日本 👩‍💻', description: 'line one\n\tline two' });
    expect(fine.status, JSON.stringify(fine.body)).toBe(200);
    expect(fine.body).toMatchObject({ label: 'Café 日本 👩‍💻', description: 'line one\n\tline two' });
  });
});
