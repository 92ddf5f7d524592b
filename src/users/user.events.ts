import { z } from 'zod';
import { defineEvent, entityId, type EventOf } from '../eventsourcing/event-catalog.js';
import { singleLine } from '../platform/text/plain-text.checks.js';

export const DISPLAY_NAME_MAX = 200;

/** Persisted names: stable strings, never renamed. User events live in `user-{id}`, never in an app stream. */
export const UserCreatedEvent = defineEvent(
  'UserCreated',
  z.strictObject({ userId: entityId(), email: z.string().min(3).max(254).check(singleLine()), displayName: z.string().max(DISPLAY_NAME_MAX).check(singleLine()), admin: z.boolean() }),
);
/** The key hash stays in the user's own stream, which no backup ever reads. */
export const UserApiKeyIssuedEvent = defineEvent('UserApiKeyIssued', z.strictObject({ keyHash: z.string().regex(/^[0-9a-f]{64}$/) }));

export const USER_EVENTS = [UserCreatedEvent, UserApiKeyIssuedEvent] as const;

export type UserCreated = EventOf<typeof UserCreatedEvent>;
export type UserApiKeyIssued = EventOf<typeof UserApiKeyIssuedEvent>;

export type UserEvent = UserCreated | UserApiKeyIssued;
