import type { NewEvent } from '../../infrastructure/event-store/event-store.port.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { SYSTEM_ACTOR } from '../../platform/auth/principal.js';
import type { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { excerpt } from '../../platform/text/control-characters.js';
import { InvalidArchiveError } from '../../archive/archive-reader.js';
import type { ArchivedEvent, BackupHandler, RestoreContext } from '../backup-handler.port.js';
import type { RestoreValidator } from './restore-validator.js';

export interface RestoredEvent {
  /** The stream it goes to under the new app id. */
  stream: string;
  /** The version it takes there: its version in the archive. */
  streamVersion: number;
  event: NewEvent;
}

/**
 * One archived event made into the event of the new app, with every check a restore makes on it
 * in order: the history starts with AppCreated and never holds AppDeleted, the event belongs to
 * its stream and fits its domain's rules (the validator), its actor is in users.json; then each
 * handler maps it (users, file versions). A restore and `appvault archive verify` both run this,
 * so a verified archive is one a restore accepts. Throws InvalidArchiveError.
 */
export async function restoredEvent(
  archived: ArchivedEvent,
  context: RestoreContext,
  deps: { validator: RestoreValidator; handlers: readonly BackupHandler[]; catalog: EventCatalog },
): Promise<RestoredEvent> {
  const appStream = streams.app(context.sourceAppId);
  if (archived.number === 1 && (archived.stream !== appStream || archived.type !== 'AppCreated')) {
    throw new InvalidArchiveError(`The first event must be AppCreated in ${appStream}; found ${excerpt(archived.type, 60)} in ${excerpt(archived.stream, 120)}`);
  }
  if (archived.type === 'AppDeleted') {
    throw new InvalidArchiveError(`The app was deleted at event ${archived.number}; restore a point before it (untilEvent ${archived.number - 1})`);
  }
  const { validator } = deps;
  const placed = validator.place(archived);
  const current = validator.current(archived);
  if (archived.actor !== SYSTEM_ACTOR && !context.isArchivedUser(archived.actor)) {
    throw validator.refuse(archived, `its actor ${archived.actor.slice(0, 80)} is not in users.json`);
  }
  const stream = placed.kind === 'app' ? streams.app(context.targetAppId) : streams.child(placed.kind, context.targetAppId, placed.entityId);
  let event: ArchivedEvent = {
    ...archived,
    stream,
    type: current.type,
    data: current.data as Record<string, unknown>,
    schemaVersion: deps.catalog.versionOf(current.type),
    actor: context.mapUser(archived.actor),
  };
  for (const handler of deps.handlers) if (handler.restoreEvent) event = await handler.restoreEvent(event, context);
  await validator.follow(archived, placed, { type: event.type, data: event.data }, stream);
  return {
    stream,
    streamVersion: archived.streamVersion,
    event: { type: event.type, data: event.data, metadata: { appId: context.targetAppId, actor: event.actor, timestamp: event.timestamp, schemaVersion: event.schemaVersion } },
  };
}
