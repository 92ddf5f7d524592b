import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** Who holds the folder, for people: written by the holder, never trusted to decide anything. */
const OWNER_FILE = 'appvault.lock';
/** The lock itself: a SQLite file its holder keeps an exclusive transaction open on. */
const LOCK_DATABASE = 'appvault.lock.db';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

/** Another AppVault process works on this DATA_DIR. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner | undefined,
  ) {
    const who = owner ? ` (per ${OWNER_FILE}: pid ${owner.pid} on ${owner.host}, running since ${owner.started})` : '';
    super(
      `DATA_DIR ${dataDir} is in use by another AppVault process${who}. ` +
        'One process per data folder: stop that one, or give this one its own DATA_DIR. ' +
        'The lock is held by a live process only: it is released by the operating system when that process ends, however it ends.',
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Folders locked by this process. The operating system's locks belong to a process, so a second
 * lock on the same file from this process would be granted: two servers in one process (tests)
 * are kept apart here.
 */
const heldHere = new Set<string>();

/**
 * One process per DATA_DIR: its SQLite files, blobs and jobs assume a single writer (a second one
 * would, for instance, mark the first one's running backup Failed, or drop its claims as a dead
 * process's). The lock is SQLite's own locking on a file of its own (`appvault.lock.db`): its
 * holder keeps an exclusive transaction open for as long as it runs. SQLite locks with POSIX
 * advisory locks, which the kernel releases when the process ends, whatever ends it (SIGKILL, the
 * OOM killer, a container recreated under another hostname), so a crashed server's successor
 * starts at once, while a second live process is refused. `appvault.lock` names the holder (pid,
 * host, start) for the message a refused process prints; it decides nothing.
 *
 * Acquired before anything else in the folder is opened, so a refused process touches nothing.
 * Needs a filesystem with working POSIX locks (any local one; NFS only with its lock service).
 */
export class DataDirLock {
  private constructor(
    private readonly dataDir: string,
    private readonly database: Database.Database,
    private readonly owner: LockOwner,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const dir = resolve(dataDir);
    const ownerFile = join(dir, OWNER_FILE);
    if (heldHere.has(dir)) throw new DataDirInUseError(dir, { pid: process.pid, host: hostname(), started: 'now (this process)' });
    mkdirSync(dir, { recursive: true });
    // No busy timeout: a holder keeps its lock until it ends, so waiting would only delay the refusal.
    const database = new Database(join(dir, LOCK_DATABASE), { timeout: 0 });
    try {
      // Nothing is ever written: the journal stays in memory, no file beside it.
      database.pragma('journal_mode = MEMORY');
      database.pragma('locking_mode = EXCLUSIVE');
      database.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      database.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dir, readOwner(ownerFile));
      throw error;
    }
    const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
    try {
      writeFileSync(ownerFile, `${JSON.stringify(owner)}\n`, { mode: 0o644 });
    } catch (error) {
      database.close();
      throw error;
    }
    heldHere.add(dir);
    return new DataDirLock(dir, database, owner);
  }

  /** Frees the folder: ends the transaction (and with the connection, the OS lock). Safe to call twice. */
  release(): void {
    if (!this.database.open) return;
    const ownerFile = join(this.dataDir, OWNER_FILE);
    try {
      const current = readOwner(ownerFile);
      if (current?.pid === this.owner.pid && current.started === this.owner.started) unlinkSync(ownerFile);
    } catch {
      // gone already
    }
    this.database.close();
    heldHere.delete(this.dataDir);
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
