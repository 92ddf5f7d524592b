import type { StoredEvent } from '../../infrastructure/event-store/event-store.port.js';

/**
 * A read model fed by the projector. `apply` must be idempotent (set state from the event, never
 * increment), because after a crash the projector replays events since its last saved checkpoint.
 */
export interface Projection {
  readonly name: string;
  apply(event: StoredEvent): Promise<void>;
  /** Removes everything this projection holds for one app (rebuild, restore cleanup). */
  clearApp(appId: string): Promise<void>;
  /** Removes everything this projection holds (full rebuild). */
  clearAll(): Promise<void>;
}
