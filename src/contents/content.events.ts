import type { DomainEvent } from '../platform/events/decider.js';

export const CONTENT_STATUSES = ['Draft', 'Published', 'Archived'] as const;
export type ContentStatus = (typeof CONTENT_STATUSES)[number];

/** Field name → value, already checked against the schema's fields when it was written. */
export type ContentData = Record<string, unknown>;

/**
 * Persisted names: stable strings, never renamed. All live in the stream `content-{appId}--{contentId}`
 * and carry the app id in their metadata. The schema id is recorded once, at creation, because a
 * content never moves to another schema.
 */
export type ContentCreated = DomainEvent<'ContentCreated', { contentId: string; schemaId: string; schemaName: string; data: ContentData; status: ContentStatus }>;
export type ContentUpdated = DomainEvent<'ContentUpdated', { data: ContentData }>;
export type ContentStatusChanged = DomainEvent<'ContentStatusChanged', { status: ContentStatus }>;
export type ContentDeleted = DomainEvent<'ContentDeleted', Record<string, never>>;

export type ContentEvent = ContentCreated | ContentUpdated | ContentStatusChanged | ContentDeleted;

export const CONTENT_EVENT_TYPES: readonly ContentEvent['type'][] = ['ContentCreated', 'ContentUpdated', 'ContentStatusChanged', 'ContentDeleted'];
