import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import type { Doc, ReadCollection } from '../infrastructure/read-store/read-store.port.js';
import type { ProjectionTx } from './projection-tx.js';

/**
 * A read model fed by the projection engine. `apply` stages its changes in the unit of work it is
 * given (`tx.of(collection)`), never writes to the store itself: the engine writes each touched
 * document once per slice of events, with the checkpoint. `apply` must be idempotent (set state
 * from the event, never increment), because after a crash on a store without transactions the
 * events since the last checkpoint are applied again.
 */
export interface Projection {
  readonly name: string;
  apply(event: StoredEvent, tx: ProjectionTx): Promise<void>;
  /** Stages the removal of everything this projection holds for one app (rebuild, restore cleanup). */
  clearApp(appId: string, tx: ProjectionTx): void;
  /** Stages the removal of everything this projection holds (full rebuild). */
  clearAll(tx: ProjectionTx): void;
  /**
   * The collection whose documents make an app reachable (the apps projection's). While an app is
   * replayed on its own (a restore, a rebuild), changes to it are held back and written last, so
   * nobody can reach a half-built app.
   */
  readonly gate?: ReadCollection<Doc>;
}
