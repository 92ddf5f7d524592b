import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets its heap grow past what is live before its next major collection, as a
 * percentage (HEAP_GROWING_PERCENT; docs/production.md, docs/performance.md "Memory at 1M").
 *
 * A restore, backup or diff allocates fast and keeps little: what is live stays flat (50–80 MB),
 * but V8's own heuristic lets the heap reach three to four times that between major collections,
 * and RSS follows the peak, not the live part. A fixed factor keeps the peak near what is live, at
 * the price of more frequent major collections (mostly concurrent, off the main thread).
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 20;
/** Past 300 % the setting is looser than V8's own largest factor (4x): nothing left to fix. */
export const MAX_HEAP_GROWING_PERCENT = 300;

/**
 * HEAP_GROWING_PERCENT from the environment: the percentage, or the problem with it in words. Read
 * here, without zod, so the `appvault` command's start loads nothing more (test/unit/cli-imports.spec.ts);
 * the server's configuration reads it through this too (src/config/app-config.ts).
 */
export function readHeapGrowingPercent(value: string | undefined): number | { problem: string } {
  const text = (value ?? '').trim();
  if (text === '') return DEFAULT_HEAP_GROWING_PERCENT;
  const parsed = Number(text);
  if (!/^\d+$/.test(text) || parsed > MAX_HEAP_GROWING_PERCENT) {
    return { problem: `HEAP_GROWING_PERCENT must be an integer between 0 and ${MAX_HEAP_GROWING_PERCENT} (got "${text}")` };
  }
  return parsed;
}

/**
 * Fixes V8's heap growing factor at 1 + percent/100 for the rest of the process; 0 leaves V8's
 * own heuristic (or a `--heap-growing-percent` given to node). V8 reads the flag each time it
 * sets the next collection's limit, after every major collection, so setting it at start-up
 * works; it is not accepted in NODE_OPTIONS, hence set from here by each entry point.
 */
export function applyHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > MAX_HEAP_GROWING_PERCENT) {
    throw new RangeError(`heap growing percent must be an integer between 0 and ${MAX_HEAP_GROWING_PERCENT} (got ${percent})`);
  }
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
