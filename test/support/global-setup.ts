import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Crash tests run the server as a real child process and kill it with SIGKILL, so they need the
 * compiled build; the browser tests need the admin page built into dist/admin (served at /admin).
 * Both are built once before any test file runs, as `npm run build` does.
 *
 * Every test server writes real SQLite files and blobs into a temporary DATA_DIR (tens to hundreds
 * of MB for the larger workloads). So that a run leaves none of them behind, the run gets one
 * temporary root: TMPDIR points there for the test workers and every process they start (servers,
 * the CLI, Chromium), and the teardown removes it. KEEP_TEST_TMP=1 keeps it to look into a failure.
 */
export default function setup(): () => void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
  const root = mkdtempSync(join(tmpdir(), 'appvault-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (process.env.KEEP_TEST_TMP === '1') {
      console.log(`Test files kept under ${root}`);
      return;
    }
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
