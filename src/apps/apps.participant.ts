import type { ArchiveParticipant, RestoreContext, RestoreSession } from '../archive/archive-participant.port.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { appDecider, appStream, type AppState } from './app.aggregate.js';

/**
 * Apps in archives: on restore the app takes its new id and name, and the admin who restores
 * becomes an Owner, so someone can always reach the restored app. (Contributors are users the
 * events name: the app stream's facts say so, and the core maps them.)
 */
export const appsParticipant: ArchiveParticipant = {
  name: 'apps',
  restore: restoreApp,
};

function restoreApp(context: RestoreContext): RestoreSession {
  const stream = streams.app(context.targetAppId);
  // The restored app's state, folded as its events go by, so the Owner grant needs no read-back.
  let state: AppState = appDecider.initialState();
  let version = -1;
  return {
    mapEvent: (event) => {
      if (!appStream.holds(event)) return event;
      const restored =
        event.type === 'AppCreated'
          ? { ...event, data: { ...event.data, appId: context.targetAppId, name: context.targetName } }
          : event.type === 'AppDeleted'
            ? { ...event, data: { ...event.data, name: context.targetName } }
            : event;
      state = appDecider.evolve(state, restored);
      version = restored.streamVersion;
      return restored;
    },
    // A resumed restore folds what its first run appended (restored events are stored as current versions).
    resume: async (appended) => {
      for await (const stored of appended(stream)) {
        state = appDecider.evolve(state, { type: stored.type, data: stored.data } as Parameters<typeof appDecider.evolve>[1]);
        version = stored.streamVersion;
      }
    },
    complete: async () => {
      await context.step('owner');
      if (version < 0) throw new Error('The archive restored no event of the app itself');
      const events = appDecider.decide({ type: 'AssignContributor', data: { userId: context.actor, role: 'Owner' } }, state);
      if (events.length > 0) await context.sink.append(stream, events, version);
      context.log('The restoring administrator is an Owner of the new app');
    },
  };
}
