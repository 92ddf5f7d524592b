import { z } from 'zod';
import { APP_ROLES } from '../auth/principal.js';
import { defineEvent, entityId, type EventOf } from '../eventsourcing/event-catalog.js';
import { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
import { multiLine, singleLine } from '../platform/text/plain-text.checks.js';

// The name rule is shared with the HTTP contract.
export { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
export const LABEL_MAX = 100;
export const DESCRIPTION_MAX = 1000;

const appName = z.string().max(NAME_MAX, `must be at most ${NAME_MAX} characters`).regex(NAME_PATTERN, 'must be lowercase letters, digits and single dashes');
// Labels and descriptions reach terminals, logs and other people's screens: no control characters,
// except line breaks and tabs in a description. Appends and restores check alike.
const label = z.string().max(LABEL_MAX, `must be at most ${LABEL_MAX} characters`).check(singleLine());
const description = z.string().max(DESCRIPTION_MAX, `must be at most ${DESCRIPTION_MAX} characters`).check(multiLine());
const role = z.enum(APP_ROLES, `must be one of ${APP_ROLES.join(', ')}`);

/** Persisted names: stable strings, never renamed. All live in the stream `app-{appId}`. */
export const AppCreatedEvent = defineEvent('AppCreated', z.strictObject({ appId: entityId(), name: appName, label, description }));
export const AppUpdatedEvent = defineEvent('AppUpdated', z.strictObject({ label, description }));
export const AppContributorAssignedEvent = defineEvent('AppContributorAssigned', z.strictObject({ userId: entityId(), role }));
export const AppContributorRemovedEvent = defineEvent('AppContributorRemoved', z.strictObject({ userId: entityId() }));
export const AppDeletedEvent = defineEvent('AppDeleted', z.strictObject({ name: appName }));

/**
 * Written by a rollback in the same transaction as the events that bring the app's schemas,
 * contents and assets back: the history says what happened, and a rollback whose process died is
 * done exactly when this event is there. `targetEvent` is the app event the state was taken from.
 */
export const AppRolledBackEvent = defineEvent(
  'AppRolledBack',
  z.strictObject({ rollbackId: entityId(), targetEvent: z.number().int().min(1), backupId: entityId().nullable(), safetyBackupId: entityId().nullable() }),
);

export const APP_EVENTS = [AppCreatedEvent, AppUpdatedEvent, AppContributorAssignedEvent, AppContributorRemovedEvent, AppDeletedEvent, AppRolledBackEvent] as const;

export type AppCreated = EventOf<typeof AppCreatedEvent>;
export type AppUpdated = EventOf<typeof AppUpdatedEvent>;
export type AppContributorAssigned = EventOf<typeof AppContributorAssignedEvent>;
export type AppContributorRemoved = EventOf<typeof AppContributorRemovedEvent>;
export type AppDeleted = EventOf<typeof AppDeletedEvent>;
export type AppRolledBack = EventOf<typeof AppRolledBackEvent>;

export type AppEvent = AppCreated | AppUpdated | AppContributorAssigned | AppContributorRemoved | AppDeleted | AppRolledBack;
