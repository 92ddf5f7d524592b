import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appStream } from '../../src/apps/app.aggregate.js';
import { EventCatalog } from '../../src/eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../../src/eventsourcing/projection-engine.service.js';
import type { ProjectionTx } from '../../src/eventsourcing/projection-tx.js';
import type { Projection } from '../../src/eventsourcing/projection.js';
import type { StoredEvent } from '../../src/infrastructure/event-store/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import type { Checkpoint, CollectionWrite, Fence } from '../../src/infrastructure/read-store/read-store.port.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';

/** Counts what each commit writes, on a real SQLite read store. */
class CountingReadStore extends SqliteReadStore {
  readonly commits: number[] = [];
  override async commit(writes: readonly CollectionWrite[], checkpoint?: Checkpoint, fence?: Fence): Promise<void> {
    this.commits.push(writes.reduce((n, w) => n + w.changes.length, 0));
    await super.commit(writes, checkpoint, fence);
  }
}

interface NumberDoc {
  id: string;
  n: number;
  [key: string]: unknown;
}

describe('live replay: each slice writes only what it staged', () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  it('writes every document once when one feed spans many slices, and saves the checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'appvault-live-slices-'));
    const reads = new CountingReadStore(join(dir, 'read.db'));
    const store = new SqliteEventStore(join(dir, 'events.db'));
    closing.push(() => store.close(), () => reads.close());
    const catalog = new EventCatalog();
    catalog.register(appStream);
    const engine = new ProjectionEngine(reads, store, catalog);
    const numbers = reads.collection<NumberDoc>('numbers');
    const projection: Projection = {
      name: 'numbers',
      apply: async (event: StoredEvent, tx: ProjectionTx) => tx.of(numbers).put({ id: `n${String(event.data['n'])}`, n: Number(event.data['n']) }),
      clearApp: () => {},
      clearAll: () => {},
    };
    engine.register(projection);
    await engine.init();

    const count = 1000;
    const events: StoredEvent[] = Array.from({ length: count }, (_, i) => ({
      stream: `numbers-${i}`,
      streamVersion: 0,
      position: i + 1,
      type: 'AppCreated',
      data: { n: i },
      metadata: { actor: 'system', timestamp: new Date(0).toISOString(), schemaVersion: catalog.versionOf('AppCreated') },
    }));
    const replay = engine.begin({ checkpoint: 'live-slices' });
    await replay.feed(events);

    expect(await numbers.count({})).toBe(count);
    expect(await numbers.get('n999')).toEqual({ id: 'n999', n: 999 });
    expect(await reads.getCheckpoint('live-slices')).toBe(count);
    // More than one slice (a slice holds at most 200 documents), each document written in exactly one.
    expect(reads.commits.length).toBeGreaterThan(1);
    expect(reads.commits.reduce((a, b) => a + b, 0)).toBe(count);
  });
});
