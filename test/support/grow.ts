import { join } from 'node:path';
import { claimAppNames, growApps, type GrowOptions, type GrownApp } from '../../bench/workloads/mix.workload.js';
import { FilesystemBlobStore } from '../../src/infrastructure/blob-store/filesystem-blob-store.adapter.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';

/**
 * Grows apps of the mix workload straight into a DATA_DIR with no server running, as years of
 * use would leave it (the names committed as creating the apps would have): the server projects
 * all of it when it starts.
 */
export async function growOffline(dataDir: string, options: Omit<GrowOptions, 'apps'> & { apps?: string[] }): Promise<GrownApp[]> {
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  let apps: GrownApp[];
  try {
    apps = await growApps(store, new FilesystemBlobStore(join(dataDir, 'blobs')), { apps: ['other', 'big'], ...options });
  } finally {
    await store.close();
  }
  await claimAppNames(join(dataDir, 'claims.db'), apps);
  return apps;
}
