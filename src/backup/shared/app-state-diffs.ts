import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { RehearsalSource } from '../../archive/archive-chain.js';
import { foldArchive } from '../../archive/archive-diff.js';
import { type DiffPage, type DiffSide, StateDiff } from '../../archive/state-diff.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import type { BackupDiff } from '../../contract/diffs.schemas.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { EVENT_STORE, type EventStore, streams } from '../../infrastructure/event-store/event-store.port.js';
import { TimeSlicer } from '../../platform/time-slicer.js';

/** How many changes a dry run shows; the counts cover them all. */
export const PREVIEW_ITEMS = 20;

/**
 * Diffs that involve the live app, for the diff route and the dry runs of rollbacks and restores:
 * a StateDiff in a temporary SQLite file under DATA_DIR/tmp, removed before the answer goes. The
 * live side is folded from the event store (as reads fold it), never held in memory.
 */
@Injectable()
export class AppStateDiffs {
  readonly tempDir: string;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly catalog: EventCatalog,
  ) {
    // Where restores keep their temporary files too (archive-source.ts): emptied at start-up.
    this.tempDir = join(config.dataDir, 'tmp');
  }

  /** Runs `work` on a new diff and removes its file afterwards, whatever happens. */
  async with<T>(work: (diff: StateDiff) => Promise<T>): Promise<T> {
    const diff = await StateDiff.create(this.tempDir, this.catalog);
    try {
      return await work(diff);
    } finally {
      await diff.dispose();
    }
  }

  /** A rollback's dry run: what changed in the app since store position `position` (the rollback takes back its schemas, contents and assets). */
  sincePosition(appId: string, position: number): Promise<DiffPage> {
    return this.with(async (diff) => {
      await this.foldLive(diff, 'from', { id: appId, name: '' }, position);
      await this.foldLive(diff, 'to', { id: appId, name: '' });
      await diff.compare();
      return diff.report(0, PREVIEW_ITEMS);
    });
  }

  /**
   * A restore's dry run: what differs from the archive (a plain zip the dry run checked) to the
   * app it was taken from as this installation has it now; null when this installation lacks it.
   */
  async archiveAgainstLive(file: RehearsalSource, appId: string, stop: { untilEvent?: number; until?: string }): Promise<DiffPage | null> {
    if ((await this.store.countApp(appId, Number.MAX_SAFE_INTEGER)) === 0) return null;
    return this.with(async (diff) => {
      await foldArchive(diff, 'from', file, { catalog: this.catalog, maxExpandedBytes: this.config.maxRestoreExpandedBytes, ...stop });
      await this.foldLive(diff, 'to', { id: appId, name: '' });
      await diff.compare();
      return diff.report(0, PREVIEW_ITEMS);
    });
  }

  /** Folds the app's events from the event store into `side`, up to `until` (a store position) when given. */
  async foldLive(diff: StateDiff, side: DiffSide, app: { id: string; name: string }, until?: number): Promise<BackupDiff['to']> {
    const slicer = new TimeSlicer();
    const appStream = streams.app(app.id);
    let events = 0;
    for await (const stored of this.store.readApp(app.id, until === undefined ? undefined : { until })) {
      const definition = this.catalog.kindOf(stored.stream);
      const entityId = stored.stream === appStream ? app.id : definition && streams.childId(definition.kind, stored.stream);
      if (definition && entityId) diff.fold(side, stored.stream, definition.kind, entityId, this.catalog.upcast(stored));
      events += 1;
      const turn = slicer.tick();
      if (turn) await turn;
    }
    return { backupId: null, appId: app.id, appName: app.name, created: null, events };
  }
}
