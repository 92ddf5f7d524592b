import { z } from 'zod';
import { CONTENT_STATUSES } from '../contract/contents.schemas.js';
import { NAME_MAX, NAME_PATTERN } from '../apps/app.events.js';
import { defineEvent, entityId, type EventOf } from '../eventsourcing/event-catalog.js';
import { FIELD_NAME_PATTERN } from '../schemas/schema.events.js';

// The statuses are words of the HTTP contract too.
export { CONTENT_STATUSES, type ContentStatus } from '../contract/contents.schemas.js';

/** Field name → value, checked against the schema's fields when it is written. */
export type ContentData = Record<string, unknown>;

const data = z.record(z.string().regex(FIELD_NAME_PATTERN, 'is not a field name'), z.unknown());
const status = z.enum(CONTENT_STATUSES, `must be one of ${CONTENT_STATUSES.join(', ')}`);

/**
 * Persisted names: stable strings, never renamed. All live in the stream `content-{appId}--{contentId}`
 * and carry the app id in their metadata. The schema id is recorded once, at creation, because a
 * content never moves to another schema.
 */
export const ContentCreatedEvent = defineEvent(
  'ContentCreated',
  z.strictObject({ contentId: entityId(), schemaId: entityId(), schemaName: z.string().max(NAME_MAX).regex(NAME_PATTERN, 'is not a schema name'), data, status }),
);
export const ContentUpdatedEvent = defineEvent('ContentUpdated', z.strictObject({ data }));
export const ContentStatusChangedEvent = defineEvent('ContentStatusChanged', z.strictObject({ status }));
export const ContentDeletedEvent = defineEvent('ContentDeleted', z.strictObject({}));

/**
 * A rollback brought the content back to its state at an earlier point: live (undeleted, if it
 * was deleted since), with this data and status. It carries what a read shows of the content's
 * creation, since a deleted content has no read model left to take it from.
 */
export const ContentRevertedEvent = defineEvent(
  'ContentReverted',
  z.strictObject({
    schemaId: entityId(),
    schemaName: z.string().max(NAME_MAX).regex(NAME_PATTERN, 'is not a schema name'),
    data,
    status,
    created: z.iso.datetime({ offset: true }),
    createdBy: entityId(),
  }),
);

export const CONTENT_EVENTS = [ContentCreatedEvent, ContentUpdatedEvent, ContentStatusChangedEvent, ContentDeletedEvent, ContentRevertedEvent] as const;

export type ContentCreated = EventOf<typeof ContentCreatedEvent>;
export type ContentUpdated = EventOf<typeof ContentUpdatedEvent>;
export type ContentStatusChanged = EventOf<typeof ContentStatusChangedEvent>;
export type ContentDeleted = EventOf<typeof ContentDeletedEvent>;
export type ContentReverted = EventOf<typeof ContentRevertedEvent>;

export type ContentEvent = ContentCreated | ContentUpdated | ContentStatusChanged | ContentDeleted | ContentReverted;

export const CONTENT_EVENT_TYPES: readonly ContentEvent['type'][] = ['ContentCreated', 'ContentUpdated', 'ContentStatusChanged', 'ContentDeleted', 'ContentReverted'];
