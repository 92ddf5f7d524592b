import { randomUUID } from 'node:crypto';
import { checkpointOf, INDEX_CHECKPOINT_STREAM, indexStreamOf, linkTo } from '../../../src/infrastructure/event-store/eventstoredb-app-index.js';
import { streams } from '../../../src/infrastructure/event-store/event-store.port.js';
import type { EventStoreStandin } from './standin-server.js';

/** An AppVault event as the stand-in seeds it: JSON data and AppVault's metadata. */
export function appVaultEvent(type: string, data: Record<string, unknown>, appId?: string) {
  return { type, data, metadata: { ...(appId ? { appId } : {}), actor: 'user-1', timestamp: new Date(1_700_000_000_000).toISOString(), schemaVersion: 1 } };
}

/** Where the index writer's last saved checkpoint says it has linked everything through (0 before it saves one). */
export function indexedThrough(standin: EventStoreStandin): number {
  const saved = standin.log.records.filter((r) => r.stream === 'appvault-index-checkpoint').at(-1);
  if (!saved) return 0;
  const data = JSON.parse(Buffer.from(saved.data).toString('utf8')) as { commit: string };
  return Number(data.commit);
}

/** Waits until the index writer has saved a checkpoint at or past `position` (the events up to it are linked). */
export async function waitForIndex(standin: EventStoreStandin, position: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (indexedThrough(standin) < position) {
    if (Date.now() > deadline) throw new Error(`The app index writer did not reach position ${position} in ${timeoutMs} ms (it is at ${indexedThrough(standin)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Fills the stand-in with `total` events around one app's `appEvents` (AppCreated first, the rest
 * spread evenly between `from` and `to`, as fractions of the log): the other events belong to 200
 * other apps and to user streams, as in an installation with many apps. Returns the app's id.
 */
export function seedBusyStore(standin: EventStoreStandin, total: number, appEvents: number, span: { from: number; to: number } = { from: 0.1, to: 0.9 }): string {
  const appId = randomUUID();
  const others = Array.from({ length: 200 }, () => randomUUID());
  const at = new Set(Array.from({ length: appEvents }, (_, i) => Math.floor(total * (span.from + ((span.to - span.from) * i) / Math.max(1, appEvents - 1)))));
  let written = 0;
  for (let n = 0; n < total; n += 1) {
    if (at.has(n) && written < appEvents) {
      const stream = written === 0 ? `app-${appId}` : written % 3 === 0 ? `app-${appId}` : `content-${appId}--c${written % 7}`;
      standin.seed(stream, [appVaultEvent(written === 0 ? 'AppCreated' : 'ContentUpdated', { n: written }, appId)]);
      written += 1;
      continue;
    }
    if (n % 5 === 4) {
      standin.seed(`user-u${n % 1000}`, [appVaultEvent('UserUpdated', { n })]);
      continue;
    }
    const other = others[n % others.length]!;
    standin.seed(n % 2 ? `content-${other}--c${n % 13}` : `app-${other}`, [appVaultEvent('ContentUpdated', { n }, other)]);
  }
  return appId;
}

/**
 * A store whose per-app index is up to date, as the index writer leaves it once it has caught up:
 * after the events, each app's links (built by the writer's own functions) and the writer's
 * checkpoint. Indexing 100,000 events through gRPC takes the writer longer than a test should.
 */
export function indexEverything(standin: EventStoreStandin): void {
  const byApp = new Map<string, { stream: string; revision: bigint; position: number }[]>();
  let newest = 0;
  for (const record of standin.log.records) {
    if (record.internal || record.stream.startsWith('$') || record.stream.startsWith('appvault-') || record.type.startsWith('$')) continue;
    newest = record.position;
    const appId = streams.appOf(record.stream);
    if (!appId) continue;
    const links = byApp.get(appId) ?? [];
    links.push({ stream: record.stream, revision: record.revision, position: record.position });
    byApp.set(appId, links);
  }
  for (const [appId, targets] of byApp) standin.seed(indexStreamOf(appId), targets.map(linkTo));
  // The writer's checkpoint moves on over its own links too (the server checkpoints the records it filters out).
  const last = BigInt(standin.log.records.at(-1)!.position);
  standin.seed(INDEX_CHECKPOINT_STREAM, [checkpointOf({ through: { commit: last, prepare: last }, newest })]);
}
