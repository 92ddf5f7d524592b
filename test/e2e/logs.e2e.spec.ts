import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { putTogether, takeApart } from '../support/archive-forge.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { ADMIN_TOKEN, ApiClient, tempDir } from '../support/test-server.js';
import { freePort } from '../support/child-server.js';


/** Runs the built server as `npm start` does, with the given environment, and keeps stdout and stderr apart. */
async function run(env: Record<string, string>, during: (url: string, output: () => string) => Promise<void>): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], { env: { ...process.env, DATA_DIR: tempDir(), PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  if (env['PORT'] === undefined) {
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${url}/health/ready`).then((r) => r.status, () => 0)) !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await during(url, () => stdout);
    child.kill('SIGTERM');
  }
  const code = await exited;
  return { stdout, stderr, code };
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('logs', () => {
  it('with LOG_FORMAT=json writes only JSON lines, logs each request once without its query, and prints the first admin key once, outside any log record', async () => {
    let apiKey = '';
    const { stdout, stderr } = await run({ LOG_FORMAT: 'json' }, async (url, output) => {
      const printed = lines(output()).map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => typeof entry['apiKey'] === 'string');
      apiKey = String(printed?.['apiKey']);
      const me = await fetch(`${url}/api/users/me?token=query-secret-123`, { headers: { authorization: `Bearer ${apiKey}`, 'x-request-id': 'trace-42' } });
      expect(me.status).toBe(200);
      expect(me.headers.get('x-request-id')).toBe('trace-42');
      const missing = await fetch(`${url}/api/apps/nope`, { headers: { authorization: `Bearer ${apiKey}` } });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      await new Promise((r) => setTimeout(r, 200));
    });
    const all = [...lines(stdout), ...lines(stderr)];
    const parsed = all.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not JSON: ${line}`);
      }
    });
    expect(apiKey).toMatch(/^av_/);
    // The key: printed exactly once, never inside a log record (records have a level).
    expect(all.filter((line) => line.includes(apiKey))).toHaveLength(1);
    expect(parsed.filter((entry) => 'level' in entry).some((entry) => JSON.stringify(entry).includes(apiKey))).toBe(false);
    // Start-up speaks JSON too.
    expect(parsed.some((entry) => entry['level'] === 'log' && String(entry['message']).startsWith('AppVault listening on'))).toBe(true);
    const requests = parsed.filter((entry) => entry['context'] === 'HTTP').map((entry) => entry['message'] as Record<string, unknown>);
    const me = requests.filter((r) => r['path'] === '/api/users/me');
    expect(me).toHaveLength(1);
    expect(me[0]).toMatchObject({ method: 'GET', route: '/api/users/me', status: 200, requestId: 'trace-42' });
    expect(typeof me[0]!['durationMs']).toBe('number');
    expect(requests.find((r) => r['path'] === '/api/apps/nope')).toMatchObject({ method: 'GET', route: '/api/apps/:app', status: 404 });
    expect(all.join('\n')).not.toContain('query-secret-123');
    // Probes are not logged at the default level.
    expect(requests.some((r) => String(r['path']).startsWith('/health'))).toBe(false);
  }, 60_000);

  it('starts in a few lines (Nest’s wiring only at debug level) and logs each step of a stop once', async () => {
    const quiet = await run({}, async () => undefined);
    const plain = (text: string) => lines(text.replace(/\x1b\[[0-9;]*m/g, ''));
    const records = plain(quiet.stdout + quiet.stderr).filter((line) => line.includes(' LOG ') || line.includes(' DEBUG '));
    const starting = records.filter((line) => !line.includes('[Shutdown]'));
    expect(starting.some((line) => line.includes('AppVault listening on'))).toBe(true);
    expect(starting.some((line) => line.includes('[Startup] Ready in'))).toBe(true);
    expect(starting.length, starting.join('\n')).toBeLessThanOrEqual(5);
    expect(records.filter((line) => /RouterExplorer|RoutesResolver|InstanceLoader/.test(line))).toEqual([]);
    // Each shutdown step once, in order, and nothing else under that context.
    const stopping = records.filter((line) => line.includes('[Shutdown]')).map((line) => line.slice(line.indexOf('[Shutdown]') + 11));
    expect(stopping).toEqual([expect.stringMatching(/^SIGTERM: not accepting connections/), 'All requests answered and jobs finished', 'Stopped']);

    const debug = await run({ LOG_LEVEL: 'debug' }, async () => undefined);
    expect(plain(debug.stdout).filter((line) => line.includes('[RouterExplorer]') && line.includes('DEBUG')).length).toBeGreaterThan(50);
  }, 60_000);

  it('says what is wrong with the configuration in the format asked for', async () => {
    const json = await run({ LOG_FORMAT: 'json', PORT: 'abc' }, async () => undefined);
    expect(json.code, JSON.stringify(json)).toBe(78);
    expect(json.stdout + json.stderr, JSON.stringify(json)).toContain('PORT');
    const entry = JSON.parse(lines(json.stderr)[0] ?? lines(json.stdout)[0] ?? '') as Record<string, unknown>;
    expect(entry['level']).toBe('error');
    expect(String(entry['message'])).toContain('PORT must be an integer between 0 and 65535 (got "abc")');
    const text = await run({ PORT: 'abc' }, async () => undefined);
    expect(text.code).toBe(78);
    expect(text.stdout + text.stderr).toContain('PORT must be an integer between 0 and 65535 (got "abc")');
  }, 30_000);

  it('prints the generated key as a plain line with text logs, and each request as one line', async () => {
    const { stdout } = await run({}, async (url) => {
      await fetch(`${url}/api/apps/none?secret=abc`, { headers: { 'x-request-id': 'text-7' } });
      await new Promise((r) => setTimeout(r, 200));
    });
    const line = lines(stdout).find((l) => l.includes('av_'));
    expect(line).toMatch(/^The API key of administrator admin@localhost \(shown once, also in .*admin-token\): av_[A-Za-z0-9_-]{43}$/);
    const request = lines(stdout).find((l) => l.includes('id=text-7'))?.replace(/\u001b\[[0-9;]*m/g, '');
    expect(request).toMatch(/\[HTTP\] .*GET \/api\/apps\/none 401 [\d.]+ ms \(\/api\/apps\/:app\) id=text-7$/);
    expect(stdout).not.toContain('secret=abc');
  }, 30_000);

  /**
   * What an archive, a server answering a restore and a request would write into the log: escape
   * sequences (title, screen clearing, a clipboard write), C1 and bidirectional controls, and a line
   * break followed by a record of its own. Each is restored against the real server process (or
   * sent to it), whose stdout and stderr are read whole.
   */
  const FORGED = '\n[Nest] 123  - 01/01/2026, 1:00:00 AM     LOG [RestoresService] Restore done';
  const HOSTILE = `\u001b]0;x\u0007\u001b[2J${FORGED}`;
  /** Nest's own colours (SGR: ESC [ n m), the one kind of escape sequence a text log may hold. */
  const NEST_COLOURS = /\u001b\[\d+(;\d+)*m/g;
  const RAW_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

  async function feedHostileText(url: string): Promise<string[]> {
    const admin = new ApiClient(url, ADMIN_TOKEN);
    // An app to take a genuine archive of, then forge.
    expect((await admin.post('/api/apps', { name: 'source' })).status).toBe(201);
    expect((await admin.post('/api/apps/source/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await admin.post('/api/apps/source/content/notes', { data: { text: `note ${i}` } })).status).toBe(201);
    const backup = await admin.post('/api/apps/source/backups', {});
    expect((await waitForJob(admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    const genuine = (await admin.bytes(`/api/backups/${backup.body.id}/archive`)).bytes;

    const errors: string[] = [];
    const restore = async (archive: Buffer, name: string) => {
      const form = fileForm(archive, 'hostile.zip', 'application/zip');
      form.append('name', name);
      const started = await admin.post('/api/restore', form);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
      expect(job.status).toBe('Failed');
      errors.push(String(job.error));
    };
    let forgery = await takeApart(genuine);
    forgery.events.find((e) => e['type'] === 'ContentCreated')!['type'] = HOSTILE;
    await restore(await putTogether(forgery), 'hostile-type');
    forgery = await takeApart(genuine);
    forgery.users[0]!['displayName'] = `Ada\u001b]52;c;cHduZWQ=\u0007${FORGED}`;
    await restore(await putTogether(forgery), 'hostile-user');
    await restore(await putTogether(await takeApart(genuine), { manifest: (m) => void (m['format'] = `appvault${HOSTILE}`) }), 'hostile-format');

    // A server a restore downloads from, answering with hostile words of its own.
    const hostileServer = createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `gone\u009b2J\u202e${HOSTILE}` }));
    });
    await new Promise<void>((resolve) => hostileServer.listen(0, '127.0.0.1', resolve));
    try {
      const started = await admin.post('/api/restore', { url: `http://127.0.0.1:${(hostileServer.address() as AddressInfo).port}/backup.zip`, name: 'hostile-url' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(admin, `/api/restore/${started.body.id}`);
      expect(job.status).toBe('Failed');
      errors.push(String(job.error));
    } finally {
      hostileServer.close();
    }
    // And through the API: refused, and the request log holds only the path.
    expect((await admin.put('/api/apps/source', { label: HOSTILE })).status).toBe(400);
    await new Promise((r) => setTimeout(r, 300));
    return errors;
  }

  const expectNoForgery = (all: string[], errors: string[]) => {
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/event \d+ is malformed at type: contains a control character \(U\+001B\)/);
    expect(errors[1]).toMatch(/users\.json\.0\.displayName: contains a control character \(U\+001B\)/);
    expect(errors[2]).toMatch(/^manifest\.json names format "appvault\\u001b\]0;x\\u0007\\u001b\[2J\\n\[Nest\] 123/);
    expect(errors[3]).toMatch(/answered HTTP 404 \(gone\\x9b2J\\u202e\\x1b\]0;x\\x07\\x1b\[2J\\n\[Nest\] 123 /);
    // Every job error was logged too; none of them, nor anything else, forged a line or carried a control character.
    expect(all.filter((line) => /Restore [0-9a-f-]{36} failed/.test(line))).toHaveLength(4);
    for (const line of all) {
      expect(line, line).not.toMatch(/^\[Nest\] 123 /);
      expect(line.replace(NEST_COLOURS, ''), line).not.toMatch(RAW_CONTROLS);
      expect(line.replace(NEST_COLOURS, ''), line).not.toContain('\u001b');
    }
  };

  it('lets no archive, remote server or request forge a line or reach the terminal in a text log', async () => {
    let errors: string[] = [];
    const { stdout, stderr } = await run({ ADMIN_TOKEN, RESTORE_ALLOWED_HOSTS: '127.0.0.1' }, async (url) => {
      errors = await feedHostileText(url);
    });
    const all = [...lines(stdout), ...lines(stderr)];
    expectNoForgery(all, errors);
    // The escaped text is there to read, on the line of the record that quotes it.
    expect(all.some((line) => line.replace(NEST_COLOURS, '').includes('answered HTTP 404 (gone\\x9b2J\\u202e\\x1b]0;x\\x07\\x1b[2J\\n[Nest] 123'))).toBe(true);
    // Nest's records keep their form (and, unless NO_COLOR, their colours).
    expect(all.filter((line) => line.replace(NEST_COLOURS, '').startsWith('[Nest] ')).length).toBeGreaterThan(10);
  }, 120_000);

  it('lets no archive, remote server or request forge a record or carry a raw control character in a JSON log', async () => {
    let errors: string[] = [];
    const { stdout, stderr } = await run({ ADMIN_TOKEN, RESTORE_ALLOWED_HOSTS: '127.0.0.1', LOG_FORMAT: 'json' }, async (url) => {
      errors = await feedHostileText(url);
    });
    const all = [...lines(stdout), ...lines(stderr)];
    expectNoForgery(all, errors);
    const records = all.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = records.filter((record) => /^Restore [0-9a-f-]{36} failed: /.test(String(record['message'])));
    expect(failed.map((record) => String(record['message']).replace(/^Restore [0-9a-f-]{36} failed: /, ''))).toEqual(errors);
  }, 120_000);
});
