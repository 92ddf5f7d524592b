import { Inject, Injectable } from '@nestjs/common';
import { type ChildKind, EVENT_STORE, type EventStore, type StoredEvent, streams } from '../../infrastructure/event-store/event-store.port.js';
import type { DomainEvent } from '../../eventsourcing/decider.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { TimeSlicer } from '../../platform/time-slicer.js';
import type { RollbackContext, RollbackStep } from '../backup-handler.port.js';
import { BackupHandlerRegistry } from '../backup-handler.registry.js';
import { type ChangeCounts, type KindChanges, LISTED_PER_KIND, type RollbackChanges } from './rollback-job.js';

/** The order steps run in: a content's step needs to know what becomes of its schema. */
const KINDS: readonly ChildKind[] = ['schema', 'content', 'asset'];
const REPORT_KEY: Record<ChildKind, keyof RollbackChanges> = { schema: 'schemas', content: 'contents', asset: 'assets' };

export interface RollbackWrite {
  stream: string;
  change: RollbackStep['change'];
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
 * app) and asks the domain module that owns the stream for the events that bring it back.
 */
@Injectable()
export class RollbackPlanner {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly catalog: EventCatalog,
    private readonly handlers: BackupHandlerRegistry,
  ) {}

  /** `onProgress` gets the fraction done, 0 to 1. */
  async plan(appId: string, targetPosition: number, onProgress: (fraction: number) => Promise<void> = async () => undefined): Promise<RollbackPlan> {
    const slicer = new TimeSlicer();
    const byKind = new Map<ChildKind, string[]>(KINDS.map((kind) => [kind, []]));
    const seen = new Set<string>();
    let appVersion = -1;
    const appStream = streams.app(appId);
    for await (const stored of this.store.readApp(appId)) {
      await slicer.tick();
      if (stored.stream === appStream) appVersion = stored.streamVersion;
      if (seen.has(stored.stream)) continue;
      seen.add(stored.stream);
      const kind = KINDS.find((k) => streams.childId(k, stored.stream) !== undefined);
      if (kind) byKind.get(kind)!.push(stored.stream);
    }
    await onProgress(0.2);

    const facts = new Map<string, unknown>();
    const context: RollbackContext = {
      appId,
      targetPosition,
      share: (key, id, value) => facts.set(`${key}\u0000${id}`, value),
      shared: <T>(key: string, id: string) => facts.get(`${key}\u0000${id}`) as T | undefined,
    };
    const changes: RollbackChanges = { schemas: emptyKind(), contents: emptyKind(), assets: emptyKind() };
    const counts: ChangeCounts = { created: 0, changed: 0, deleted: 0 };
    const writes: RollbackWrite[] = [];
    const total = Math.max(1, seen.size);
    let done = 0;
    let events = 0;
    for (const kind of KINDS) {
      const handler = this.handlers.all.find((h) => h.rollbackKind === kind);
      const ofKind: RollbackWrite[] = [];
      for (const stream of byKind.get(kind)!) {
        done += 1;
        if (!handler?.rollbackEntity) continue;
        const history: StoredEvent[] = [];
        for await (const stored of this.store.readStream(stream)) {
          await slicer.tick();
          history.push(this.catalog.upcast(stored));
        }
        if (history.length === 0) continue;
        const step = await handler.rollbackEntity(history, context);
        if (step && step.events.length > 0) {
          const list = changes[REPORT_KEY[kind]][step.change];
          if (list.length < LISTED_PER_KIND) list.push(step.label);
          counts[step.change] += 1;
          ofKind.push({ stream, change: step.change, events: step.events, expectedVersion: history[history.length - 1]!.streamVersion, afterAppend: step.afterAppend });
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
}
