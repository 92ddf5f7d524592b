import { Inject, Injectable } from '@nestjs/common';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import type { Projection } from '../eventsourcing/projection.js';
import type { ProjectionTx } from '../eventsourcing/projection-tx.js';
import type { UserEvent } from './user.events.js';

export interface UserDoc {
  id: string;
  email: string;
  displayName: string;
  admin: boolean;
  apiKeyHash: string | null;
  created: string;
}

@Injectable()
export class UsersProjection implements Projection {
  readonly name = 'users';
  readonly users: ReadCollection<UserDoc>;

  constructor(@Inject(READ_STORE) store: ReadStore) {
    this.users = store.collection<UserDoc>('users', { indexes: ['email', 'apiKeyHash'], cacheLookups: true });
  }

  async apply(stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    if (!stored.stream.startsWith('user-')) return;
    const users = tx.of(this.users);
    const event = { type: stored.type, data: stored.data } as UserEvent;
    const userId = stored.stream.slice('user-'.length);
    switch (event.type) {
      case 'UserCreated':
        users.put({
          id: event.data.userId,
          email: event.data.email,
          displayName: event.data.displayName,
          admin: event.data.admin,
          apiKeyHash: null,
          created: stored.metadata.timestamp,
        });
        return;
      case 'UserApiKeyIssued': {
        const user = await users.get(userId);
        if (user) users.put({ ...user, apiKeyHash: event.data.keyHash });
        return;
      }
    }
  }

  /** Users are global, not part of any app. */
  clearApp(): void {}

  clearAll(tx: ProjectionTx): void {
    tx.of(this.users).deleteWhere({});
  }
}
