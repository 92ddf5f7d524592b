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

interface Entry {
  diff: Promise<KeptDiff>;
  readers: number;
  evicted: boolean;
  idle?: NodeJS.Timeout;
}

/**
 * Finished diffs of two backups, for the pages asked after the first. Both sides are Completed
 * backups, which never change, so a kept diff stays true; without it every page would read both
 * archives again (minutes for large apps). Only the changes are kept (a small file under
 * DATA_DIR/tmp, emptied at start-up), never the sides' states. Requests for a diff being computed
 * wait for that one instead of starting another.
 */
@Injectable()
export class KeptDiffs implements OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();

  /** Runs `read` on the kept diff of `key`, computing it with `compute` (once) when it is not kept. */
  async use<T>(key: string, compute: () => Promise<KeptDiff>, read: (diff: KeptDiff) => T): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { diff: compute(), readers: 0, evicted: false };
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
        diff = await current.diff;
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

  /** Number of diffs kept (or being computed). */
  get size(): number {
    return this.entries.size;
  }

  async onModuleDestroy(): Promise<void> {
    for (const key of [...this.entries.keys()]) this.evict(key);
  }

  private evictBeyond(max: number): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= max) return;
      this.evict(key);
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
