import { z } from 'zod';
import { FIELD_TYPES } from '../contract/app-schemas.schemas.js';
import { NAME_MAX, NAME_PATTERN } from '../apps/app.events.js';
import { defineEvent, entityId, type EventOf, type Upcaster } from '../eventsourcing/event-catalog.js';

// The field types are words of the HTTP contract too.
export { FIELD_TYPES, type FieldType } from '../contract/app-schemas.schemas.js';

export const FIELD_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9]*$/;
export const FIELD_NAME_MAX = 40;
/** Every field is a column of every content form and a key of every content; beyond this a schema is unusable. */
export const MAX_FIELDS = 100;

const schemaName = z.string().max(NAME_MAX, `must be at most ${NAME_MAX} characters`).regex(NAME_PATTERN, 'must be lowercase letters, digits and single dashes');
const field = z.strictObject({
  name: z.string().max(FIELD_NAME_MAX, `must be at most ${FIELD_NAME_MAX} characters`).regex(FIELD_NAME_PATTERN, 'must start with a letter and hold only letters and digits'),
  type: z.enum(FIELD_TYPES, `must be one of ${FIELD_TYPES.join(', ')}`),
  required: z.boolean(),
});

export type SchemaField = z.infer<typeof field>;

/**
 * Version 1 of the schema events let a field leave `required` out (it meant false); from
 * version 2 every field says whether it is required.
 */
const explicitRequired = (key: 'fields' | 'field'): Upcaster => (data) => {
  const withRequired = (f: unknown) => (typeof f === 'object' && f !== null && !('required' in f) ? { ...f, required: false } : f);
  const value = data[key];
  return { ...data, [key]: Array.isArray(value) ? value.map(withRequired) : withRequired(value) };
};

/**
 * Persisted names: stable strings, never renamed. All live in the stream `schema-{appId}--{schemaId}`
 * and carry the app id in their metadata.
 */
export const SchemaCreatedEvent = defineEvent(
  'SchemaCreated',
  z.strictObject({ schemaId: entityId(), name: schemaName, fields: z.array(field).max(MAX_FIELDS, `a schema has at most ${MAX_FIELDS} fields`) }),
  { version: 2, upcasters: { 1: explicitRequired('fields') } },
);
export const SchemaFieldAddedEvent = defineEvent('SchemaFieldAdded', z.strictObject({ field }), { version: 2, upcasters: { 1: explicitRequired('field') } });
/** Carries the name so a reader of the history (or a restore) sees which name became free. */
export const SchemaDeletedEvent = defineEvent('SchemaDeleted', z.strictObject({ name: schemaName }));

/**
 * A rollback brought the schema back to its state at an earlier point: live, named and with
 * exactly these fields (undeleting it, or taking back fields added since). `created` is when the
 * schema was first created, which reads show again.
 */
export const SchemaRevertedEvent = defineEvent(
  'SchemaReverted',
  z.strictObject({ name: schemaName, fields: z.array(field).max(MAX_FIELDS, `a schema has at most ${MAX_FIELDS} fields`), created: z.iso.datetime({ offset: true }) }),
);

export const SCHEMA_EVENTS = [SchemaCreatedEvent, SchemaFieldAddedEvent, SchemaDeletedEvent, SchemaRevertedEvent] as const;

export type SchemaCreated = EventOf<typeof SchemaCreatedEvent>;
export type SchemaFieldAdded = EventOf<typeof SchemaFieldAddedEvent>;
export type SchemaDeleted = EventOf<typeof SchemaDeletedEvent>;
export type SchemaReverted = EventOf<typeof SchemaRevertedEvent>;

export type SchemaEvent = SchemaCreated | SchemaFieldAdded | SchemaDeleted | SchemaReverted;

export const SCHEMA_EVENT_TYPES: readonly SchemaEvent['type'][] = ['SchemaCreated', 'SchemaFieldAdded', 'SchemaDeleted', 'SchemaReverted'];
