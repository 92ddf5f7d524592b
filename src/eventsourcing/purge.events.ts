import { z } from 'zod';
import { defineEvent, defineStream, entityId, type EventOf } from './event-catalog.js';

/**
 * The record of what was purged (a failed restore's app, a user it created), kept in the event
 * store itself: EventStoreDB keeps deleted events in $all until a scavenge, and a read store
 * rebuilt from nothing must still know not to project them again.
 */
export const PURGES_STREAM = 'system-purges';

export const AppPurgedEvent = defineEvent('AppPurged', z.strictObject({ appId: entityId() }));
export const StreamPurgedEvent = defineEvent('StreamPurged', z.strictObject({ stream: z.string().min(1).max(300) }));

export type PurgeEvent = EventOf<typeof AppPurgedEvent> | EventOf<typeof StreamPurgedEvent>;

export interface Purged {
  apps: Set<string>;
  streams: Set<string>;
}

export const purgeStream = defineStream<Purged, PurgeEvent>({
  kind: 'system',
  place: 'installation',
  events: [AppPurgedEvent, StreamPurgedEvent],
  decider: {
    initialState: () => ({ apps: new Set(), streams: new Set() }),
    evolve: (state, event) => {
      if (event.type === 'AppPurged') state.apps.add(event.data.appId);
      else state.streams.add(event.data.stream);
      return state;
    },
  },
  check: () => 'the purge record is never part of an app archive',
});
