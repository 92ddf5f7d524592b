import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { Lease } from '../name-index/lease.js';
import { claims, type NameIndex, NameUnavailableError } from '../name-index/name-index.port.js';
import type { EventStore } from './event-store.port.js';

/** A failed run starts again after this pause, doubling up to a limit. */
const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30_000;

/**
 * Runs the event store's background upkeep (EventStore.maintain: on EventStoreDB, the per-app index)
 * in one process of the installation at a time, the one holding the `store-upkeep` lease; the others
 * try to take it over every half lease period, since its holder may have died. A run that fails
 * starts again after a pause. Without a NameIndex (tests, a single process) it simply runs.
 */
export class StoreMaintenance {
  private readonly logger = new Logger('StoreMaintenance');
  private readonly stopping = new AbortController();
  private running?: Promise<void>;

  constructor(
    private readonly store: EventStore,
    private readonly leases?: { names: NameIndex; ttlMs: number; holder: string },
  ) {}

  start(): void {
    if (!this.store.maintain || this.running) return;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const stop = this.stopping.signal;
    let failures = 0;
    while (!stop.aborted) {
      let lease: Lease | undefined;
      let pause = 0;
      try {
        if (this.leases) lease = await Lease.acquire(this.leases.names, claims.storeUpkeep(), { ttlMs: this.leases.ttlMs, holder: this.leases.holder });
        await this.store.maintain!(lease ? AbortSignal.any([stop, lease.lost]) : stop);
        failures = 0;
      } catch (error) {
        if (error instanceof NameUnavailableError) {
          pause = this.leases!.ttlMs / 2;
        } else {
          failures += 1;
          pause = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
          if (!stop.aborted) this.logger.warn(`The event store's upkeep failed (${error instanceof Error ? error.message : String(error)}); starting it again in ${pause} ms`);
        }
      } finally {
        await lease?.release().catch(() => undefined);
      }
      if (pause > 0) await sleep(pause, undefined, { signal: stop }).catch(() => undefined);
    }
  }
}
