import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { claimAppNames, growApps } from '../workloads/mix.workload.js';
import { type BenchServer, spawnServer, stopServer, waitReady } from './bench-server.js';

/**
 * The built server, ready, on a data folder of its own holding app "big" grown with the mix
 * workload to `events` events; stopped and its folder removed once `work` is done. `work` gets the
 * folder too, to start the server again on it.
 */
export async function withGrownServer<T>(events: number, env: Record<string, string>, work: (server: BenchServer, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'appvault-bench-'));
  try {
    const store = new SqliteEventStore(join(dataDir, 'events.db'));
    const blobs = new FilesystemBlobStore(join(dataDir, 'blobs'));
    const apps = await growApps(store, blobs, { events, apps: ['big'], shape: 'mix' });
    await store.close();
    await claimAppNames(join(dataDir, 'claims.db'), apps);
    const server = await spawnServer(dataDir, env);
    try {
      await waitReady(server);
      return await work(server, dataDir);
    } finally {
      await stopServer(server);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
