import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The compiled `appvault` command (bin/appvault.js → dist/cli, built by the global setup) run as
 * its own process, as a person or a script would run it.
 */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const ROOT = process.cwd();

export interface CliOptions {
  env?: Record<string, string>;
  /** The working folder (default: the repository's). */
  cwd?: string;
  launcher?: string;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.launcher ?? join(ROOT, 'bin/appvault.js'), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A hung command fails its test instead of the whole run.
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses stdout as exactly one JSON document (what --json promises). */
export function jsonOf<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
