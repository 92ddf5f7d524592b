import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentContext } from './cli-context.js';
import { Output } from './output.js';

/**
 * The temporary folders the offline commands keep their scratch files in (an offline diff's folded
 * states: gigabytes at 1M events; a verify's scratch streams and keys; a decrypted archive), under
 * the system's temp folder. Each is removed when its work ends, well or not (`withScratchFolder`);
 * while any exists, SIGINT, SIGTERM and SIGHUP remove them all too, then end the command with
 * 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the
 * signal ended. Node's default for those signals ends the process at once, leaving the folders.
 * SIGKILL cannot be caught: what it leaves (`$TMPDIR/appvault-*`) is safe to delete (README).
 */
const folders = new Set<string>();

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/** Removes every folder still registered; answers those that could not be removed, with why. */
function removeAll(): string[] {
  const left: string[] = [];
  for (const folder of folders) {
    try {
      // Synchronous: the process ends right after. Files still open (better-sqlite3) go too on POSIX.
      rmSync(folder, { recursive: true, force: true, maxRetries: 2 });
    } catch (error) {
      left.push(`${folder} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  folders.clear();
  return left;
}

function onSignal(signal: StopSignal): void {
  const left = removeAll();
  const removed = left.length === 0 ? 'its temporary files removed' : `could not remove ${left.join(', ')}: delete by hand`;
  // Bars stopped first, so the line starts on a line of its own; written escaped, as every message.
  const output = currentContext()?.output ?? new Output(false, false);
  output.close();
  output.error(`stopped by ${signal}; ${removed}`);
  process.exit(128 + constants.signals[signal]);
}

/** On any other way out (process.exit from elsewhere), the folders go too. */
const onExit = (): void => void removeAll();

function watch(on: boolean): void {
  for (const signal of STOP_SIGNALS) {
    if (on) process.on(signal, onSignal);
    else process.off(signal, onSignal);
  }
  if (on) process.on('exit', onExit);
  else process.off('exit', onExit);
}

/**
 * Runs `work` with a new folder of this process's own under the system's temp folder, named
 * `<prefix>XXXXXX` (mode 0700), and removes it afterwards, whatever happens, or when a signal
 * stops the command on the way.
 */
export async function withScratchFolder<T>(prefix: string, work: (folder: string) => Promise<T>): Promise<T> {
  // Made, registered and watched in one synchronous step: no signal can come between (an async
  // mkdtemp's folder would exist on disk a turn of the event loop before it was registered).
  const folder = mkdtempSync(join(tmpdir(), prefix));
  if (folders.size === 0) watch(true);
  folders.add(folder);
  try {
    return await work(folder);
  } finally {
    // Removed before it leaves the registry: a signal meanwhile still finds it.
    await rm(folder, { recursive: true, force: true });
    folders.delete(folder);
    if (folders.size === 0) watch(false);
  }
}
