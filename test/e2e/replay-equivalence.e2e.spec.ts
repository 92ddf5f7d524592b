import { copyFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { growApps } from '../../bench/workloads/mix.workload.js';
import { BLOB_STORE, type BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { EVENT_STORE, type EventStore } from '../../src/infrastructure/event-store/event-store.port.js';
import { AppReplays } from '../../src/eventsourcing/app-replays.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { waitForJob } from '../support/fixtures.js';
import { dumpReadModels, type ReadModels, sampleWords } from '../support/read-models.js';
import { startServer, tempDir } from '../support/test-server.js';

const EVENTS = 3000;

type AnyDoc = Record<string, unknown>;

/** One app's documents of a collection, keyed by entity id, with the app id taken out. */
function ofApp(models: ReadModels, collection: string, appId: string): Record<string, AnyDoc> {
  const out: Record<string, AnyDoc> = {};
  for (const [key, doc] of Object.entries(models.docs[collection] ?? {})) {
    if (!key.startsWith(`${appId}--`)) continue;
    out[key.slice(appId.length + 2)] = { ...(doc as AnyDoc), appId: '(app)', ...('assetId' in (doc as AnyDoc) ? { id: '(key)' } : {}) };
  }
  return out;
}

function searchOfApp(models: ReadModels, appId: string): Record<string, string[]> {
  return Object.fromEntries(Object.entries(models.search).map(([word, keys]) => [word, keys.filter((k) => k.startsWith(`${appId}--`)).map((k) => k.slice(appId.length + 2))]));
}

describe('replays build the read models live projection builds', () => {
  it('catch-up, a full rebuild, an app rebuild and a restore of the mix workload all match live projection', async () => {
    const dirA = tempDir();
    const a = await startServer({}, dirA);
    let words: string[];
    let live: ReadModels;
    let restored: ReadModels;
    let bigId: string;
    try {
      // Live: the history arrives in small appends while the server runs, and the follower projects them as they come.
      const store = a.app.get<EventStore>(EVENT_STORE);
      const [, big] = await growApps(store, a.app.get<BlobStore>(BLOB_STORE), { events: EVENTS, apps: ['other', 'big'], batch: 20, seed: 7 });
      bigId = big!.id;
      await a.app.get(Projector).waitFor(await store.headPosition());
      words = sampleWords(dumpReadModels(dirA, []));
      live = dumpReadModels(dirA, words);
      expect(Object.keys(ofApp(live, 'contents', bigId)).length).toBeGreaterThan(500);
      expect(Object.keys(ofApp(live, 'assets', bigId)).length).toBeGreaterThan(20);
      expect(Object.values(searchOfApp(live, bigId)).some((ids) => ids.length > 10)).toBe(true);

      // The history pages of a long history: the first and the last page, against the store's own order.
      const history: { stream: string; type: string }[] = [];
      for await (const event of store.readApp(bigId)) history.push({ stream: event.stream, type: event.type });
      expect(history.length).toBe(big!.events);
      const first = await a.admin.get('/api/apps/big/events?after=0&take=5');
      expect(first.body.items.map((e: { number: number; stream: string; type: string }) => [e.number, e.stream, e.type])).toEqual(history.slice(0, 5).map((e, i) => [i + 1, e.stream, e.type]));
      const lastPage = await a.admin.get(`/api/apps/big/events?after=${history.length - 3}&take=100`);
      expect(lastPage.body.items.map((e: { number: number; stream: string; type: string }) => [e.number, e.stream, e.type])).toEqual(
        history.slice(-3).map((e, i) => [history.length - 2 + i, e.stream, e.type]),
      );

      // A restore projects the new app from the events it appends.
      const backup = await a.admin.post('/api/apps/big/backups', {});
      expect((await waitForJob(a.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
      const restore = await a.admin.post('/api/restore', { backupId: backup.body.id, name: 'big-copy' });
      const job = await waitForJob(a.admin, `/api/restore/${restore.body.id}`);
      expect(job.status, String(job.error)).toBe('Completed');
      const copyId = job.appId as string;
      restored = dumpReadModels(dirA, words);
      for (const collection of ['schemas', 'contents', 'assets']) expect(ofApp(restored, collection, copyId)).toEqual(ofApp(live, collection, bigId));
      expect(searchOfApp(restored, copyId)).toEqual(searchOfApp(live, bigId));
      const [original, copy] = [live.docs['apps']![bigId] as AnyDoc, restored.docs['apps']![copyId] as AnyDoc];
      expect({ ...copy, id: bigId, name: 'big', version: original['version'], lastModified: original['lastModified'], lastModifiedBy: original['lastModifiedBy'] }).toMatchObject({
        ...original,
        contributors: expect.arrayContaining(original['contributors'] as unknown[]),
        contributorIds: expect.arrayContaining(original['contributorIds'] as unknown[]),
      });
      expect((copy['contributors'] as unknown[]).length).toBe((original['contributors'] as unknown[]).length + 1);
    } finally {
      await a.close();
    }

    // Catch-up: the same events in a new installation, projected at start-up in bulk.
    const dirB = tempDir();
    copyFileSync(join(dirA, 'events.db'), join(dirB, 'events.db'));
    cpSync(join(dirA, 'blobs'), join(dirB, 'blobs'), { recursive: true });
    const b = await startServer({}, dirB);
    try {
      const caughtUp = dumpReadModels(dirB, words);
      expect(caughtUp).toEqual(restored);
      await b.app.get(Projector).rebuildAll();
      expect(dumpReadModels(dirB, words)).toEqual(restored);
      await b.app.get(AppReplays).rebuildApp(bigId);
      expect(dumpReadModels(dirB, words)).toEqual(restored);
      // Reads still answer from the rebuilt models, full-text search included.
      const isArticle = (key: string) => key.startsWith(`${bigId}--`) && (restored.docs['contents']![key] as AnyDoc)['schema'] === 'articles';
      const word = words.find((w) => (restored.search[w] ?? []).some(isArticle))!;
      const found = await b.admin.get(`/api/apps/big/content/articles?q=${word}&top=1`);
      expect(found.status).toBe(200);
      expect(found.body.total).toBe(restored.search[word]!.filter(isArticle).length);
    } finally {
      await b.close();
    }
  });
});
