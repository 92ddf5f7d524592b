/**
 * Samples how long the server takes to answer while a job runs: every 50 ms it sends one request
 * to each probed path without waiting for earlier ones, so a stalled event loop shows as the
 * latency of every request that queued behind it.
 */
export interface LatencyStats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  failures: number;
}

export interface Probe {
  stop(): Promise<Record<string, LatencyStats>>;
}

export function probe(base: string, paths: Record<string, { path: string; token?: string }>, everyMs = 50): Probe {
  const results: Record<string, { ms: number[]; failures: number }> = {};
  const inFlight: Promise<void>[] = [];
  for (const name of Object.keys(paths)) results[name] = { ms: [], failures: 0 };
  const timer = setInterval(() => {
    for (const [name, { path, token }] of Object.entries(paths)) {
      const started = performance.now();
      const request = fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status >= 500) results[name]!.failures += 1;
          results[name]!.ms.push(performance.now() - started);
        })
        .catch(() => {
          results[name]!.failures += 1;
        });
      inFlight.push(request);
    }
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      const stats: Record<string, LatencyStats> = {};
      for (const [name, { ms, failures }] of Object.entries(results)) stats[name] = summarize(ms, failures);
      return stats;
    },
  };
}

export function summarize(ms: number[], failures = 0): LatencyStats {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { samples: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0), failures };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
