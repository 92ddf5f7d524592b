import { Injectable } from '@nestjs/common';
import type { ArchivedEvent, BackupContext, BackupHandler, RestoreContext } from '../backup/backup-handler.port.js';
import type { AppEvent } from './app.events.js';
import { assignContributor } from './app.aggregate.js';
import { AppCommandRunner } from './commands/app-command.runner.js';

/** Contributors are users the app's events name; on restore the app takes its new id and name. */
@Injectable()
export class AppsBackupHandler implements BackupHandler {
  readonly name = 'apps';

  constructor(private readonly runner: AppCommandRunner) {}

  async backupEvents(events: readonly ArchivedEvent[], context: BackupContext): Promise<void> {
    for (const archived of events) {
      const event = archived as unknown as AppEvent;
      if (event.type === 'AppContributorAssigned' || event.type === 'AppContributorRemoved') context.mentionUser(event.data.userId);
    }
  }

  async restoreEvent(archived: ArchivedEvent, context: RestoreContext): Promise<ArchivedEvent> {
    const event = archived as unknown as AppEvent;
    switch (event.type) {
      case 'AppCreated':
        return { ...archived, data: { ...event.data, appId: context.targetAppId, name: context.targetName } };
      case 'AppDeleted':
        return { ...archived, data: { ...event.data, name: context.targetName } };
      case 'AppContributorAssigned':
      case 'AppContributorRemoved':
        return { ...archived, data: { ...event.data, userId: context.mapUser(event.data.userId) } };
      default:
        return archived;
    }
  }

  /** The admin who restores becomes an Owner, so someone can always reach the restored app. */
  async completeRestore(context: RestoreContext): Promise<void> {
    await context.step('owner');
    await this.runner.runExisting(context.targetAppId, context.actor, (state) => assignContributor(state, { userId: context.actor, role: 'Owner' }));
    context.log('The restoring administrator is an Owner of the new app');
  }
}
