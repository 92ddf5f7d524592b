import { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
import { conflict, invalid, notFound } from '../platform/domain-errors.js';
import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { defineStream, ruleProblem } from '../eventsourcing/event-catalog.js';
import { claims } from '../infrastructure/name-index/name-index.port.js';
import { quoted } from '../platform/text/control-characters.js';
import { FIELD_NAME_MAX, FIELD_NAME_PATTERN, FIELD_TYPES, type FieldType, MAX_FIELDS, SCHEMA_EVENTS, type SchemaEvent, type SchemaField } from './schema.events.js';

export { FIELD_NAME_MAX, FIELD_NAME_PATTERN, MAX_FIELDS };

export interface SchemaState {
  status: 'new' | 'live' | 'deleted';
  name: string;
  fields: SchemaField[];
}

/** What a client sends for a field; the type is a plain string until it is checked. */
export interface FieldInput {
  name: string;
  type: string;
  required?: boolean;
}

/**
 * What schema commands ask. Name uniqueness spans streams, so whoever sends CreateSchema looks it up
 * (serialised per app by a claim) and passes the answer in `nameTaken`; the rule itself stays here, pure.
 */
export type SchemaCommand =
  | DomainCommand<'CreateSchema', { schemaId: string; name: string; fields: FieldInput[]; nameTaken: boolean }>
  | DomainCommand<'AddSchemaField', { field: FieldInput }>
  | DomainCommand<'DeleteSchema', Record<string, never>>
  /** A rollback's: back to `target`, the schema's state at the point rolled back to. */
  | DomainCommand<'RevertSchema', { target: SchemaState; created: string }>;

export const schemaDecider: Decider<SchemaState, SchemaCommand, SchemaEvent> = {
  initialState: () => ({ status: 'new', name: '', fields: [] }),
  decide: decideBy({
    CreateSchema: createSchema,
    AddSchemaField: addField,
    DeleteSchema: deleteSchema,
    RevertSchema: (state, { target, created }) => revertSchema(state, target, created),
  }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'SchemaCreated':
        return { status: 'live', name: event.data.name, fields: event.data.fields };
      case 'SchemaFieldAdded':
        return { ...state, fields: [...state.fields, event.data.field] };
      case 'SchemaDeleted':
        return { ...state, status: 'deleted' };
      case 'SchemaReverted':
        return { status: 'live', name: event.data.name, fields: event.data.fields };
    }
  },
};

export function validateSchemaName(name: string): void {
  if (name.length > NAME_MAX || !NAME_PATTERN.test(name)) {
    throw invalid(`name: ${quoted(name, NAME_MAX + 20)} must be lowercase letters, digits and single dashes (like "blog-post"), at most ${NAME_MAX} characters`);
  }
}

const isFieldType = (type: string): type is FieldType => (FIELD_TYPES as readonly string[]).includes(type);

/** Returns the problems of one field, each naming it, so a client can fix them all in one go. */
function fieldProblems(input: FieldInput, where: string): string[] {
  const problems: string[] = [];
  if (input.name.length > FIELD_NAME_MAX || !FIELD_NAME_PATTERN.test(input.name)) {
    problems.push(`${where}.name: ${quoted(input.name, FIELD_NAME_MAX + 20)} must start with a letter and contain only letters and digits (like "title" or "releaseDate"), at most ${FIELD_NAME_MAX} characters`);
  }
  if (!isFieldType(input.type)) {
    problems.push(`${where}.type: field ${quoted(input.name, FIELD_NAME_MAX + 20)} has the unknown type ${quoted(input.type, 40)}; use one of ${FIELD_TYPES.join(', ')}`);
  }
  return problems;
}

function toField(input: FieldInput): SchemaField {
  return { name: input.name, type: input.type as FieldType, required: input.required ?? false };
}

function live(state: SchemaState): void {
  if (state.status !== 'live') throw notFound('The schema does not exist');
}

function createSchema(state: SchemaState, c: CommandData<SchemaCommand, 'CreateSchema'>): SchemaEvent[] {
  if (state.status !== 'new') throw conflict(`Schema ${c.schemaId} exists already`);
  validateSchemaName(c.name);
  if (c.fields.length > MAX_FIELDS) throw invalid(`fields: a schema has at most ${MAX_FIELDS} fields; this one has ${c.fields.length}`);
  const problems = c.fields.flatMap((field, i) => fieldProblems(field, `fields[${i}]`));
  if (problems.length > 0) throw invalid(problems.join('; '));
  const seen = new Set<string>();
  for (const field of c.fields) {
    if (seen.has(field.name)) throw conflict(`fields: the field name "${field.name}" is used twice; every field needs its own name`);
    seen.add(field.name);
  }
  if (c.nameTaken) throw conflict(`A schema named "${c.name}" exists already in this app`);
  return [{ type: 'SchemaCreated', data: { schemaId: c.schemaId, name: c.name, fields: c.fields.map(toField) } }];
}

function addField(state: SchemaState, { field: input }: CommandData<SchemaCommand, 'AddSchemaField'>): SchemaEvent[] {
  live(state);
  const problems = fieldProblems(input, 'field').map((p) => p.replace(/^field\./, ''));
  if (problems.length > 0) throw invalid(problems.join('; '));
  if (state.fields.some((f) => f.name === input.name)) throw conflict(`Schema "${state.name}" has a field named "${input.name}" already`);
  if (state.fields.length >= MAX_FIELDS) throw conflict(`Schema "${state.name}" has reached the limit of ${MAX_FIELDS} fields`);
  return [{ type: 'SchemaFieldAdded', data: { field: toField(input) } }];
}

function deleteSchema(state: SchemaState): SchemaEvent[] {
  live(state);
  return [{ type: 'SchemaDeleted', data: { name: state.name } }];
}

/**
 * A rollback's step for one schema: the events that take it from `current` to `target` (its state
 * at the point rolled back to), none when they agree. A schema that did not exist then is deleted.
 */
function revertSchema(current: SchemaState, target: SchemaState, created: string): SchemaEvent[] {
  if (target.status !== 'live') return current.status === 'live' ? deleteSchema(current) : [];
  const same = current.status === 'live' && current.name === target.name && JSON.stringify(current.fields) === JSON.stringify(target.fields);
  return same ? [] : [{ type: 'SchemaReverted', data: { name: target.name, fields: target.fields, created } }];
}

/** Schema names are unique among an app's live schemas; checks claim them in this scope. */
export const SCHEMA_NAMES = 'schema-names';

/**
 * What a rollback's schema steps share with the kinds after them, by schema id: the schema as it
 * lives after the rollback (a SchemaRef), and whether it comes back from deletion.
 */
export const SCHEMA_AFTER_ROLLBACK = 'schema';
export const SCHEMA_REVIVED = 'schema-revived';

/** The schema stream in the event catalog: archived events pass the rules the schema commands apply. */
export const schemaStream = defineStream<SchemaState, SchemaEvent>({
  kind: 'schema',
  place: 'entity',
  events: SCHEMA_EVENTS,
  decider: schemaDecider,
  // A diff compares a schema's name and each of its fields (type and whether it is required).
  diff: {
    report: 'schemas',
    fieldPrefix: 'fields.',
    entries: (state, schemaId) =>
      state.status === 'live'
        ? [{ id: schemaId, label: state.name, properties: { name: state.name, ...Object.fromEntries(state.fields.map((f) => [`fields.${f.name}`, { type: f.type, required: f.required }])) } }]
        : [],
  },
  rollback: {
    report: 'schemas',
    /**
     * Tells the contents' steps which schemas live after the rollback (with the fields they will
     * have) and which come back from deletion, whose contents must be shown again. The name claims
     * follow, as the schema commands keep them: freed on delete, taken on revival.
     */
    revert: (schemaId, history, context) => {
      let current: SchemaState = schemaDecider.initialState();
      let target = current;
      let created = '';
      let deletedSince = false;
      for (const stored of history) {
        current = schemaDecider.evolve(current, stored);
        if (stored.position <= context.targetPosition) target = current;
        else if (stored.type === 'SchemaDeleted') deletedSince = true;
        if (stored.type === 'SchemaCreated') created = stored.metadata.timestamp;
      }
      if (target.status === 'live') context.share(SCHEMA_AFTER_ROLLBACK, schemaId, { id: schemaId, name: target.name, fields: target.fields });
      // Deleted since the target, its contents left every read: they are written again, also when an
      // earlier, interrupted rollback has revived the schema already but not yet its contents.
      if (target.status === 'live' && (current.status !== 'live' || deletedSince)) context.share(SCHEMA_REVIVED, schemaId, true);
      const events = schemaDecider.decide({ type: 'RevertSchema', data: { target, created } }, current);
      if (events.length === 0) return undefined;
      const change = target.status !== 'live' ? 'deleted' : current.status !== 'live' ? 'created' : 'changed';
      const name = target.status === 'live' ? target.name : current.name;
      const claim = change === 'changed' ? undefined : { claim: claims.schemaName(context.appId, name), owner: schemaId, take: change === 'created' };
      return { change, label: name, events, claim };
    },
  },
  check: (state, event, context) => {
    switch (event.type) {
      case 'SchemaCreated': {
        if (event.data.schemaId !== context.entityId) return `its schemaId ${event.data.schemaId} is not the id of its stream (${context.entityId})`;
        const problem = ruleProblem(() => createSchema(state, { schemaId: event.data.schemaId, name: event.data.name, fields: event.data.fields, nameTaken: false }));
        if (problem) return problem;
        if (!context.claimName(SCHEMA_NAMES, event.data.name)) return `a live schema of the app is named "${event.data.name}" already`;
        return undefined;
      }
      case 'SchemaFieldAdded':
        return ruleProblem(() => addField(state, event.data));
      case 'SchemaDeleted': {
        const problem = ruleProblem(() => deleteSchema(state));
        if (problem) return problem;
        if (event.data.name !== state.name) return `it names the schema "${event.data.name}", but the schema is "${state.name}"`;
        context.releaseName(SCHEMA_NAMES, state.name);
        return undefined;
      }
      case 'SchemaReverted': {
        if (state.status === 'new') return 'the schema does not exist at this point; SchemaCreated must come first';
        if (state.status === 'live' && event.data.name !== state.name) return `it renames the schema "${state.name}" to "${event.data.name}"; a schema keeps its name`;
        const problem = ruleProblem(() => createSchema({ status: 'new', name: '', fields: [] }, { schemaId: context.entityId, name: event.data.name, fields: event.data.fields, nameTaken: false }));
        if (problem) return problem;
        if (state.status === 'deleted' && !context.claimName(SCHEMA_NAMES, event.data.name)) return `a live schema of the app is named "${event.data.name}" already`;
        return undefined;
      }
    }
  },
});
