import { Inject, Injectable } from '@nestjs/common';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import type { AppRole } from '../auth/principal.js';
import { notFound } from '../platform/domain-errors.js';
import type { Projection } from '../eventsourcing/projection.js';
import type { ProjectionTx } from '../eventsourcing/projection-tx.js';
import { UsersProjection } from '../users/users.projection.js';
import type { AppEvent } from './app.events.js';

export interface AppDoc {
  id: string;
  name: string;
  label: string;
  description: string;
  version: number;
  created: string;
  createdBy: string;
  lastModified: string;
  lastModifiedBy: string;
  contributors: { userId: string; email: string; role: AppRole }[];
  /** Flattened for the "apps I contribute to" query. */
  contributorIds: string[];
}

@Injectable()
export class AppsProjection implements Projection {
  readonly name = 'apps';
  readonly apps: ReadCollection<AppDoc>;
  /** An app is reachable through its document here (AppDirectory); replays of one app write it last. */
  readonly gate: ReadCollection<AppDoc>;

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    private readonly users: UsersProjection,
  ) {
    this.apps = store.collection<AppDoc>('apps', { indexes: ['name', 'contributorIds', ['contributorIds', 'name']], cacheLookups: true });
    this.gate = this.apps;
  }

  /** The app as a command that just changed it sees it; only a racing delete leaves nothing. */
  async read(appId: string): Promise<AppDoc> {
    const app = await this.apps.get(appId);
    if (!app) throw notFound('The app does not exist');
    return app;
  }

  async apply(stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    if (!stored.stream.startsWith('app-') || !stored.metadata.appId) return;
    const appId = stored.metadata.appId;
    const apps = tx.of(this.apps);
    const event = { type: stored.type, data: stored.data } as AppEvent;
    const touch = { version: stored.streamVersion, lastModified: stored.metadata.timestamp, lastModifiedBy: stored.metadata.actor };
    if (event.type === 'AppCreated') {
      apps.put({
        id: appId,
        name: event.data.name,
        label: event.data.label,
        description: event.data.description,
        created: stored.metadata.timestamp,
        createdBy: stored.metadata.actor,
        contributors: [],
        contributorIds: [],
        ...touch,
      });
      return;
    }
    const app = await apps.get(appId);
    if (!app) return;
    switch (event.type) {
      case 'AppUpdated':
        apps.put({ ...app, ...touch, label: event.data.label, description: event.data.description });
        return;
      case 'AppContributorAssigned': {
        const email = (await tx.of(this.users.users).get(event.data.userId))?.email ?? '';
        const others = app.contributors.filter((c) => c.userId !== event.data.userId);
        const contributors = [...others, { userId: event.data.userId, email, role: event.data.role }];
        apps.put({ ...app, ...touch, contributors, contributorIds: contributors.map((c) => c.userId) });
        return;
      }
      case 'AppContributorRemoved': {
        const contributors = app.contributors.filter((c) => c.userId !== event.data.userId);
        apps.put({ ...app, ...touch, contributors, contributorIds: contributors.map((c) => c.userId) });
        return;
      }
      case 'AppDeleted':
        apps.delete(appId);
        return;
      case 'AppRolledBack':
        apps.put({ ...app, ...touch });
        return;
    }
  }

  clearApp(appId: string, tx: ProjectionTx): void {
    tx.of(this.apps).delete(appId);
  }

  clearAll(tx: ProjectionTx): void {
    tx.of(this.apps).deleteWhere({});
  }
}
