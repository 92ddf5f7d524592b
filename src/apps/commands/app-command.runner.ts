import { Injectable } from '@nestjs/common';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { EventWriter, type Loaded } from '../../platform/events/event-writer.service.js';
import { notFound } from '../../platform/domain-errors.js';
import { appDecider, type AppState } from '../app.aggregate.js';
import type { AppEvent } from '../app.events.js';
import { type AppDoc, AppsProjection } from '../apps.projection.js';

/** The load → decide → append → read-back cycle every command on an existing app shares. */
@Injectable()
export class AppCommandRunner {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: AppsProjection,
  ) {}

  async run(appId: string, actor: string, decide: (state: AppState) => AppEvent[] | Promise<AppEvent[]>, expectedVersion?: number): Promise<AppDoc | undefined> {
    const loaded = await this.writer.load(streams.app(appId), appDecider);
    return this.runFrom(appId, actor, expectedVersion === undefined ? loaded : { ...loaded, version: expectedVersion }, decide);
  }

  /** The same, on state the caller already has (a restore folds the app's events as it appends them). */
  async runFrom(appId: string, actor: string, { state, version }: Loaded<AppState>, decide: (state: AppState) => AppEvent[] | Promise<AppEvent[]>): Promise<AppDoc | undefined> {
    const events = await decide(state);
    if (events.length > 0) await this.writer.append(streams.app(appId), events, version, { actor, appId });
    return this.projection.apps.get(appId);
  }

  async runExisting(appId: string, actor: string, decide: (state: AppState) => AppEvent[] | Promise<AppEvent[]>): Promise<AppDoc> {
    const app = await this.run(appId, actor, decide);
    if (!app) throw notFound('The app does not exist');
    return app;
  }
}
