import { EventStoreDbEventStore } from '../../../src/infrastructure/event-store/eventstoredb-event-store.adapter.js';
import { StoreMaintenance } from '../../../src/infrastructure/event-store/store-maintenance.js';

/**
 * The EventStoreDB adapter with its upkeep (the per-app index writer) running, as one AppVault
 * process runs it; closing the store stops the upkeep first.
 */
export function upkeptEventStore(url: string, options: { maxAppendBytes?: number } = {}): EventStoreDbEventStore {
  const store = new EventStoreDbEventStore(url, options);
  const maintenance = new StoreMaintenance(store);
  maintenance.start();
  const close = store.close.bind(store);
  store.close = async () => {
    await maintenance.stop();
    await close();
  };
  return store;
}
