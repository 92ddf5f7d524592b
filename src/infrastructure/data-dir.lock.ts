import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

const LOCK_FILE = 'appvault.lock';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

/** Another AppVault process works on this DATA_DIR. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another AppVault process (pid ${owner.pid} on ${owner.host}, running since ${owner.started}). ` +
        `One process per data folder: stop that one, or give this one its own DATA_DIR. If no such process runs, delete ${join(dataDir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirInUseError';
  }
}

/** Locks held by this process, so two servers in one process (tests) cannot share a folder either. */
const heldHere = new Set<string>();

/**
 * One process per DATA_DIR: its SQLite files, blobs and jobs assume a single writer (a second one
 * would, for instance, mark the first one's running backup Failed). The lock is a file holding the
 * owner's pid, created exclusively; a file whose process is gone (a crash, SIGKILL) is taken over.
 * Acquired before anything in the folder is opened, so a refused second process touches nothing.
 */
export class DataDirLock {
  private constructor(
    private readonly dataDir: string,
    private readonly file: string,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const dir = resolve(dataDir);
    const file = join(dir, LOCK_FILE);
    if (heldHere.has(dir)) throw new DataDirInUseError(dir, { pid: process.pid, host: hostname(), started: 'now (this process)' });
    mkdirSync(dir, { recursive: true });
    const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx', mode: 0o644 });
        heldHere.add(dir);
        return new DataDirLock(dir, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      }
      const owner = readOwner(file);
      if (owner && isRunning(owner)) throw new DataDirInUseError(dir, owner);
      // Left by a process that is gone: take it over (once; a racing taker wins the exclusive create).
      try {
        unlinkSync(file);
      } catch {
        // the other taker removed it first
      }
    }
  }

  release(): void {
    heldHere.delete(this.dataDir);
    try {
      if (readOwner(this.file)?.pid === process.pid) unlinkSync(this.file);
    } catch {
      // gone already
    }
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' ? { pid: owner.pid, host: String(owner.host ?? '?'), started: String(owner.started ?? '?') } : undefined;
  } catch {
    return undefined;
  }
}

/** Another host's process cannot be checked from here, so it counts as running. */
function isRunning(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  // Our own pid in a file we did not write here: a container restarted with the same pid.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
