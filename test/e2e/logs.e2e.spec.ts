import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/test-server.js';
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
});
