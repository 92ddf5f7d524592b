import { Inject, Injectable } from '@nestjs/common';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import type { AppRole } from '../platform/auth/principal.js';
import type { Projection } from '../platform/projection/projection.js';
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

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    private readonly users: UsersProjection,
  ) {
    this.apps = store.collection<AppDoc>('apps', { indexes: ['name'] });
  }

  async apply(stored: StoredEvent): Promise<void> {
    if (!stored.stream.startsWith('app-') || !stored.metadata.appId) return;
    const appId = stored.metadata.appId;
    const event = { type: stored.type, data: stored.data } as AppEvent;
    const touch = { version: stored.streamVersion, lastModified: stored.metadata.timestamp, lastModifiedBy: stored.metadata.actor };
    if (event.type === 'AppCreated') {
      await this.apps.put({
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
    const app = await this.apps.get(appId);
    if (!app) return;
    switch (event.type) {
      case 'AppUpdated':
        await this.apps.put({ ...app, ...touch, label: event.data.label, description: event.data.description });
        return;
      case 'AppContributorAssigned': {
        const email = (await this.users.users.get(event.data.userId))?.email ?? '';
        const others = app.contributors.filter((c) => c.userId !== event.data.userId);
        const contributors = [...others, { userId: event.data.userId, email, role: event.data.role }];
        await this.apps.put({ ...app, ...touch, contributors, contributorIds: contributors.map((c) => c.userId) });
        return;
      }
      case 'AppContributorRemoved': {
        const contributors = app.contributors.filter((c) => c.userId !== event.data.userId);
        await this.apps.put({ ...app, ...touch, contributors, contributorIds: contributors.map((c) => c.userId) });
        return;
      }
      case 'AppDeleted':
        await this.apps.delete(appId);
        return;
    }
  }

  async clearApp(appId: string): Promise<void> {
    await this.apps.delete(appId);
  }

  async clearAll(): Promise<void> {
    await this.apps.deleteMany({});
  }
}
