import { execFileSync } from 'node:child_process';

/**
 * Crash tests run the server as a real child process and kill it with SIGKILL, so they need the
 * compiled build. Compile once before any test file runs.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
