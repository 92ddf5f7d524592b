import { Injectable } from '@nestjs/common';
import { InvalidArchiveError } from '../archive/archive-reader.js';
import type { ArchivedEvent, BackupContext, BackupHandler, RestoreContext } from '../backup/backup-handler.port.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import type { Loaded } from '../eventsourcing/event-writer.service.js';
import type { AppEvent } from './app.events.js';
import { appDecider, type AppState } from './app.aggregate.js';
import { EventWriter } from '../eventsourcing/event-writer.service.js';

/** Contributors are users the app's events name; on restore the app takes its new id and name. */
@Injectable()
export class AppsBackupHandler implements BackupHandler {
  readonly name = 'apps';
  /** The restored app's state, folded as its events go by, so the Owner grant needs no read-back. */
  private readonly restoring = new WeakMap<RestoreContext, Loaded<AppState>>();

  constructor(private readonly writer: EventWriter) {}

  async backupEvents(events: readonly ArchivedEvent[], context: BackupContext): Promise<void> {
    for (const archived of events) {
      const event = archived as unknown as AppEvent;
      if (event.type === 'AppContributorAssigned' || event.type === 'AppContributorRemoved') context.mentionUser(event.data.userId);
    }
  }

  async restoreEvent(archived: ArchivedEvent, context: RestoreContext): Promise<ArchivedEvent> {
    const restored = this.rewrite(archived, context);
    if (restored.stream === streams.app(context.targetAppId)) {
      const loaded = this.restoring.get(context) ?? { state: appDecider.initialState(), version: -1 };
      this.restoring.set(context, { state: appDecider.evolve(loaded.state, restored as unknown as AppEvent), version: restored.streamVersion });
    }
    return restored;
  }

  private rewrite(archived: ArchivedEvent, context: RestoreContext): ArchivedEvent {
    const event = archived as unknown as AppEvent;
    switch (event.type) {
      case 'AppCreated':
        return { ...archived, data: { ...event.data, appId: context.targetAppId, name: context.targetName } };
      case 'AppDeleted':
        return { ...archived, data: { ...event.data, name: context.targetName } };
      case 'AppContributorAssigned':
      case 'AppContributorRemoved':
        if (!context.isArchivedUser(event.data.userId)) throw new InvalidArchiveError(`Event ${archived.number} (${event.type}) names user ${event.data.userId}, who is not in users.json`);
        return { ...archived, data: { ...event.data, userId: context.mapUser(event.data.userId) } };
      default:
        return archived;
    }
  }

  /** The admin who restores becomes an Owner, so someone can always reach the restored app. */
  async completeRestore(context: RestoreContext): Promise<void> {
    await context.step('owner');
    const loaded = this.restoring.get(context);
    if (!loaded) throw new Error('The archive restored no event of the app itself');
    const events = appDecider.decide({ type: 'AssignContributor', data: { userId: context.actor, role: 'Owner' } }, loaded.state);
    if (events.length > 0) await this.writer.append(streams.app(context.targetAppId), events, loaded.version, { actor: context.actor, appId: context.targetAppId });
    this.restoring.delete(context);
    context.log('The restoring administrator is an Owner of the new app');
  }
}
