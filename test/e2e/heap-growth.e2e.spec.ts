import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import { ROOT, runCli } from '../support/cli-runner.js';
import { tempDir } from '../support/test-server.js';

/** The probe's heap under a setting, as its own process (V8's flags are per process). */
function probe(percent: number): { peakHeapBytes: number; majorCollections: number } {
  const run = spawnSync(process.execPath, [join(ROOT, 'test/support/heap-growth-probe.mjs'), String(percent)], { encoding: 'utf8', timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { peakHeapBytes: number; majorCollections: number };
}

describe('HEAP_GROWING_PERCENT (V8 heap growth past what is live)', () => {
  it('keeps the heap near what is live, set at run time as the server and the command set it', () => {
    const own = probe(0);
    const tight = probe(10);
    // V8 collects more often instead of letting the heap grow to a multiple of the live part
    // (on Node 20: about 90 MB and 15 major collections against 170–210 MB and 3–7).
    expect(tight.majorCollections, JSON.stringify({ own, tight })).toBeGreaterThanOrEqual(1.5 * own.majorCollections);
    expect(tight.peakHeapBytes, JSON.stringify({ own, tight })).toBeLessThan(0.8 * own.peakHeapBytes);
  }, 240_000);

  it('is applied by the server at start-up, and a bad value stops it with a message naming the variable', async () => {
    const server = await startChildServer(tempDir(), { HEAP_GROWING_PERCENT: '35', LOG_LEVEL: 'debug' });
    try {
      expect(server.output()).toContain('V8 heap growth: at most 35% past the live heap between major collections (HEAP_GROWING_PERCENT)');
    } finally {
      await server.stop();
    }
    const refused = spawnSync(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: tempDir(), PORT: '0', HOST: '127.0.0.1', HEAP_GROWING_PERCENT: 'twenty' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(refused.status, refused.stdout + refused.stderr).toBe(78);
    expect(refused.stdout + refused.stderr).toContain('Invalid configuration: HEAP_GROWING_PERCENT must be an integer between 0 and 300 (got "twenty")');
  }, 120_000);

  it('is read by the appvault command, which refuses a bad value before doing anything', async () => {
    const refused = await runCli(['archive', 'verify', join(tempDir(), 'none.zip')], { env: { HEAP_GROWING_PERCENT: '500' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('HEAP_GROWING_PERCENT must be an integer between 0 and 300 (got "500")');
    expect(refused.stderr).not.toContain('none.zip');
    const help = await runCli(['--help'], { env: { HEAP_GROWING_PERCENT: '0' } });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('HEAP_GROWING_PERCENT');
  }, 60_000);
});
