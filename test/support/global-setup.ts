import { execFileSync } from 'node:child_process';

/**
 * Crash tests run the server as a real child process and kill it with SIGKILL, so they need the
 * compiled build; the browser tests need the admin page built into dist/admin (served at /admin).
 * Both are built once before any test file runs, as `npm run build` does.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
}
