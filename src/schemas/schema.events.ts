import type { DomainEvent } from '../platform/events/decider.js';

export const FIELD_TYPES = ['String', 'Number', 'Boolean', 'DateTime', 'Json', 'Assets', 'References'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface SchemaField {
  name: string;
  type: FieldType;
  required: boolean;
}

/**
 * Persisted names: stable strings, never renamed. All live in the stream `schema-{appId}--{schemaId}`
 * and carry the app id in their metadata.
 */
export type SchemaCreated = DomainEvent<'SchemaCreated', { schemaId: string; name: string; fields: SchemaField[] }>;
export type SchemaFieldAdded = DomainEvent<'SchemaFieldAdded', { field: SchemaField }>;
/** Carries the name so a reader of the history (or a restore) sees which name became free. */
export type SchemaDeleted = DomainEvent<'SchemaDeleted', { name: string }>;

export type SchemaEvent = SchemaCreated | SchemaFieldAdded | SchemaDeleted;

export const SCHEMA_EVENT_TYPES: readonly SchemaEvent['type'][] = ['SchemaCreated', 'SchemaFieldAdded', 'SchemaDeleted'];
