import { z } from 'zod';
import { Int, Time } from './common.schemas.js';

/** An app's schemas (the shapes of its contents): the field types a schema may use. */
export const FIELD_TYPES = ['String', 'Number', 'Boolean', 'DateTime', 'Json', 'Assets', 'References'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

// Names and types are checked by the schema's rules, whose messages name the offending field.
export const FieldBody = z.strictObject({ name: z.string(), type: z.string(), required: z.boolean().optional() });
export const CreateSchemaBody = z.strictObject({ name: z.string(), fields: z.array(FieldBody).optional().default([]) });

export const Schema = z.strictObject({
  id: z.string(),
  name: z.string(),
  fields: z.array(z.strictObject({ name: z.string(), type: z.enum(FIELD_TYPES), required: z.boolean() })),
  version: Int,
  created: Time,
  lastModified: Time,
});
export type Schema = z.infer<typeof Schema>;
