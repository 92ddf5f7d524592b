import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli-runner.js';
import { until, waitForJob } from '../support/fixtures.js';
import { growOffline } from '../support/grow.js';
import { startServer, tempDir } from '../support/test-server.js';

/** Events of the mix workload: enough that an offline diff of two copies still runs when its scratch folder appears. */
const EVENTS = 30_000;

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the command's own temp folder held once it ended. */
  left: string[];
}

describe('offline commands stopped by a signal (real processes): their scratch folders go too', () => {
  let dir: string;
  let a: string;
  let b: string;

  beforeAll(async () => {
    const dataDir = tempDir();
    await growOffline(dataDir, { events: EVENTS, apps: ['shop'] });
    const server = await startServer({}, dataDir);
    try {
      const started = await server.admin.post('/api/apps/shop/backups', {});
      expect(started.status, JSON.stringify(started.body)).toBeLessThan(300);
      const done = await waitForJob(server.admin, `/api/backups/${String(started.body.id)}`);
      expect(done.status, String(done.error)).toBe('Completed');
      dir = tempDir('appvault-signals-');
      a = join(dir, 'a.zip');
      b = join(dir, 'b.zip');
      copyFileSync(join(dataDir, 'blobs', 'backups', `${String(done.id)}.zip`), a);
      copyFileSync(a, b);
    } finally {
      await server.close();
    }
  }, 300_000);

  /**
   * Runs `appvault <args>` with a temp folder of its own, sends `signal` as soon as a folder of the
   * command's there (named `<prefix>…`) holds a scratch file, and answers how the command ended
   * and what it left in its temp folder.
   */
  const stoppedBy = async (signal: NodeJS.Signals, args: string[], prefix: string): Promise<Stopped> => {
    const tmp = tempDir('appvault-child-tmp-');
    const child = spawn(process.execPath, [join(ROOT, 'bin/appvault.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, endSignal) => resolve({ code, signal: endSignal }));
    });
    let finished = false;
    void ended.then(() => (finished = true));
    const holdsFile = (name: string) => name.startsWith(prefix) && readdirSync(join(tmp, name)).length > 0;
    const seen = await until(async () => (finished ? 'ended' : readdirSync(tmp).some(holdsFile) ? 'seen' : undefined), `${prefix}… to hold a scratch file`, 120_000, 2);
    if (seen === 'ended') throw new Error(`appvault ${args[0]} ended before its scratch files were seen (stderr: ${stderr}): grow larger archives`);
    child.kill(signal);
    const end = await ended;
    return { ...end, stderr, left: readdirSync(tmp) };
  };

  it('SIGTERM: the scratch folder is removed, exit 143, one line on stderr', async () => {
    const stopped = await stoppedBy('SIGTERM', ['diff', a, b], 'appvault-diff-');
    expect(stopped.left, stopped.stderr).toEqual([]);
    // Ended by the command itself (a code), not by the signal's default action, which leaves the folder.
    expect(stopped, stopped.stderr).toMatchObject({ code: 143, signal: null });
    expect(stopped.stderr.trim().split('\n').at(-1)).toBe('appvault: stopped by SIGTERM; its temporary files removed');
  }, 180_000);

  it('SIGINT (Ctrl-C): the same, exit 130', async () => {
    const stopped = await stoppedBy('SIGINT', ['diff', a, b], 'appvault-diff-');
    expect(stopped.left, stopped.stderr).toEqual([]);
    expect(stopped, stopped.stderr).toMatchObject({ code: 130, signal: null });
    expect(stopped.stderr.trim().split('\n').at(-1)).toBe('appvault: stopped by SIGINT; its temporary files removed');
  }, 180_000);

  it('archive verify, by the same means: its scratch streams and keys go with its folder on SIGHUP (exit 129)', async () => {
    const stopped = await stoppedBy('SIGHUP', ['archive', 'verify', a], 'appvault-check-');
    expect(stopped.left, stopped.stderr).toEqual([]);
    expect(stopped, stopped.stderr).toMatchObject({ code: 129, signal: null });
    expect(stopped.stderr.trim().split('\n').at(-1)).toBe('appvault: stopped by SIGHUP; its temporary files removed');
  }, 180_000);

  it('undisturbed, the diff ends well and leaves nothing either', async () => {
    const tmp = tempDir('appvault-child-tmp-');
    const child = spawn(process.execPath, [join(ROOT, 'bin/appvault.js'), 'diff', a, b, '--json'], { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { total: number }).total).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  }, 180_000);
});
