import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { DiffResult } from '../../archive/state-diff.js';
import type { BackupDiff } from '../../contract/diffs.schemas.js';

/** How many finished diffs are kept at once; the one used longest ago goes first. */
export const KEPT_DIFFS = 4;
/** A kept diff nobody has asked a page of for this long is removed. */
export const KEPT_DIFF_IDLE_MS = 10 * 60_000;

/** A compared diff of two backups and what each side was taken from. */
export interface KeptDiff {
  from: BackupDiff['from'];
  to: BackupDiff['to'];
  result: DiffResult;
}

/** A diff that was not finished within the wait asked for: it goes on, and a later request reads it. */
export interface StillComputing {
  computing: true;
  /** When its computation started. */
  since: Date;
}

interface Entry {
  diff: Promise<KeptDiff>;
  since: Date;
  /** Computed (or failed): only these are evicted to keep KEPT_DIFFS. */
  settled: boolean;
  readers: number;
  evicted: boolean;
  idle?: NodeJS.Timeout;
}

/**
 * Finished diffs, for the pages asked after the first: of two backups (Completed backups never
 * change, so a kept diff stays true), or of a backup against the live app as one computation read
 * it (its snapshot). Without them every page would read both sides again (minutes for large apps).
 * Only the changes are kept (a small file under DATA_DIR/tmp, emptied at start-up), never the
 * sides' states. Requests for a diff being computed wait for that one instead of starting another,
 * for as long as they ask to; the computation goes on when they stop waiting.
 */
@Injectable()
export class KeptDiffs implements OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();

  /**
   * Runs `read` on the kept diff of `key`, computing it with `compute` (once) when it is not kept.
   * With `waitMs`, a diff not finished by then answers StillComputing instead (its computation goes
   * on, kept under `key`); a failure is answered to the next request for `key`, then forgotten.
   */
  async use<T>(key: string, compute: () => Promise<KeptDiff>, read: (diff: KeptDiff) => T, options: { waitMs?: number } = {}): Promise<T | StillComputing> {
    let entry = this.entries.get(key);
    if (!entry) {
      const diff = compute();
      // Nobody may be waiting when it fails: the failure is kept for the next request, not thrown unobserved.
      const added: Entry = { diff, since: new Date(), settled: false, readers: 0, evicted: false };
      diff.then(
        () => (added.settled = true),
        () => (added.settled = true),
      );
      entry = added;
      this.entries.set(key, entry);
      this.evictBeyond(KEPT_DIFFS);
    } else {
      // Most recently used last, so eviction takes the first.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    const current = entry;
    current.readers += 1;
    clearTimeout(current.idle);
    try {
      let diff: KeptDiff;
      try {
        const settled = await within(current.diff, options.waitMs);
        if (settled === undefined) return { computing: true, since: current.since };
        diff = settled;
      } catch (error) {
        // A diff that failed is not kept: the next request tries again (and says why again).
        if (this.entries.get(key) === current) this.entries.delete(key);
        current.evicted = true;
        throw error;
      }
      return read(diff);
    } finally {
      current.readers -= 1;
      if (current.evicted) this.release(current);
      else if (current.readers === 0) current.idle = setTimeout(() => this.evict(key), KEPT_DIFF_IDLE_MS).unref();
    }
  }

  /** Whether a diff is kept (or being computed) under `key`. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Number of diffs kept (or being computed). */
  get size(): number {
    return this.entries.size;
  }

  async onModuleDestroy(): Promise<void> {
    for (const key of [...this.entries.keys()]) this.evict(key);
  }

  /**
   * Evicts finished diffs, least recently used first, down to `max`. One being computed stays
   * (someone waits for it or will ask again; evicting it would start it over), so while more than
   * `max` are computed at once there are more; idle ones still go after KEPT_DIFF_IDLE_MS.
   */
  private evictBeyond(max: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= max) return;
      if (entry.settled) this.evict(key);
    }
  }

  private evict(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    clearTimeout(entry.idle);
    entry.evicted = true;
    this.release(entry);
  }

  /** Disposes of an evicted diff once nobody reads it. */
  private release(entry: Entry): void {
    if (entry.readers > 0) return;
    entry.diff.then((diff) => diff.result.dispose()).catch(() => undefined);
  }
}

/** What `promise` settles to within `ms` (always when `ms` is undefined), or undefined once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number | undefined): Promise<T | undefined> {
  if (ms === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)))]);
  } finally {
    clearTimeout(timer);
  }
}
