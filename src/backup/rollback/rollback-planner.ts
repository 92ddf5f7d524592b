import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { EVENT_STORE, type EventStore, type StoredEvent, streams } from '../../infrastructure/event-store/event-store.port.js';
import { NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import type { DomainEvent } from '../../eventsourcing/decider.js';
import type { EntityRevert, RevertContext } from '../../eventsourcing/event-catalog.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { conflict } from '../../platform/domain-errors.js';
import { TimeSlicer } from '../../platform/time-slicer.js';
import { type ChangeCounts, type KindChanges, LISTED_PER_KIND, type RollbackChanges } from './rollback-job.js';

export interface RollbackWrite {
  stream: string;
  change: EntityRevert<DomainEvent>['change'];
  afterAppend?: () => Promise<void>;
  events: DomainEvent[];
  /** The stream's version when planned: the write is refused if anything was appended since. */
  expectedVersion: number;
}

export interface RollbackPlan {
  changes: RollbackChanges;
  counts: ChangeCounts;
  writes: RollbackWrite[];
  events: number;
  /** The app stream's version when planned, for the marker event. */
  appVersion: number;
}

const emptyKind = (): KindChanges => ({ created: [], changed: [], deleted: [] });

/**
 * Works out what brings an app back to its state as of a store position, writing nothing: it lists
 * the app's streams, then folds one stream at a time (so memory holds one entity's events, not the
 * app) and asks the stream's kind for the events that bring it back (its rollback facts in the
 * event catalog). Kinds go in the catalog's rollback order, so a kind's steps see what the kinds
 * before it shared.
 */
@Injectable()
export class RollbackPlanner {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly catalog: EventCatalog,
  ) {}

  /** `onProgress` gets the fraction done, 0 to 1. */
  async plan(appId: string, targetPosition: number, onProgress: (fraction: number) => Promise<void> = async () => undefined): Promise<RollbackPlan> {
    const slicer = new TimeSlicer();
    const kinds = this.catalog.rollbackOrder();
    const byKind = new Map<string, string[]>(kinds.map((definition) => [definition.kind, []]));
    const seen = new Set<string>();
    let appVersion = -1;
    const appStream = streams.app(appId);
    for await (const stored of this.store.readApp(appId)) {
      await slicer.tick();
      if (stored.stream === appStream) appVersion = stored.streamVersion;
      if (seen.has(stored.stream)) continue;
      seen.add(stored.stream);
      const kind = this.catalog.kindOf(stored.stream)?.kind;
      if (kind) byKind.get(kind)?.push(stored.stream);
    }
    await onProgress(0.2);

    const facts = new Map<string, unknown>();
    const context: RevertContext = {
      appId,
      targetPosition,
      share: (key, id, value) => facts.set(`${key}\u0000${id}`, value),
      shared: <T>(key: string, id: string) => facts.get(`${key}\u0000${id}`) as T | undefined,
    };
    const changes: RollbackChanges = Object.fromEntries(kinds.map((definition) => [definition.rollback!.report, emptyKind()]));
    const counts: ChangeCounts = { created: 0, changed: 0, deleted: 0 };
    const writes: RollbackWrite[] = [];
    const total = Math.max(1, seen.size);
    let done = 0;
    let events = 0;
    for (const definition of kinds) {
      const rollback = definition.rollback!;
      const ofKind: RollbackWrite[] = [];
      for (const stream of byKind.get(definition.kind)!) {
        done += 1;
        const history: StoredEvent[] = [];
        for await (const stored of this.store.readStream(stream)) {
          await slicer.tick();
          history.push(this.catalog.upcast(stored));
        }
        if (history.length === 0) continue;
        const step = rollback.revert(streams.childId(definition.kind, stream)!, history, context);
        if (step && step.events.length > 0) {
          for (const blob of step.blobs ?? []) if (!(await this.blobs.exists(blob.key))) throw conflict(blob.problem);
          const list = changes[rollback.report]![step.change];
          if (list.length < LISTED_PER_KIND) list.push(step.label);
          counts[step.change] += 1;
          ofKind.push({ stream, change: step.change, events: step.events, expectedVersion: history[history.length - 1]!.streamVersion, afterAppend: this.claimStep(step) });
          events += step.events.length;
        }
        if (done % 200 === 0) await onProgress(0.2 + (0.8 * done) / total);
      }
      // Deletions first: a name a deleted entity held is free before a revived one takes it, as in
      // any history a restore accepts.
      writes.push(...ofKind.filter((w) => w.change === 'deleted'), ...ofKind.filter((w) => w.change !== 'deleted'));
    }
    await onProgress(1);
    return { changes, counts, writes, events, appVersion };
  }

  /** What follows the append at once, as a command's claim does: the name freed, or reserved and committed again. */
  private claimStep(step: EntityRevert<DomainEvent>): (() => Promise<void>) | undefined {
    const held = step.claim;
    if (!held) return undefined;
    if (!held.take) return () => this.names.releaseOwned(held.claim, held.owner);
    return async () => this.names.commit(held.claim, await this.names.reserve(held.claim, this.config.nameReservationTtlMs, held.owner), held.owner);
  }
}
