import { conflict, invalid, notFound } from '../platform/domain-errors.js';
import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { SYSTEM_ACTOR } from '../auth/principal.js';
import { defineStream, ruleProblem } from '../eventsourcing/event-catalog.js';
import { SCHEMA_AFTER_ROLLBACK, SCHEMA_REVIVED, type SchemaState } from '../schemas/schema.aggregate.js';
import type { SchemaField } from '../schemas/schema.events.js';
import { sameData, validateData } from './content-data.validation.js';
import { CONTENT_EVENTS, CONTENT_STATUSES, type ContentData, type ContentEvent, type ContentStatus } from './content.events.js';

export interface ContentState {
  stage: 'new' | 'live' | 'deleted';
  schemaId: string;
  status: ContentStatus;
  data: ContentData;
  /** Stream revision the state reflects, -1 before the first event; what If-Match compares with. */
  version: number;
}

/** The schema a command addresses through its path, as it is now. */
export interface SchemaRef {
  id: string;
  name: string;
  fields: readonly SchemaField[];
}

/**
 * What content commands ask, the schema already resolved from the path. `expectedVersion` is the
 * client's If-Match: the decision is refused (409) unless the content is at that version.
 */
export type ContentCommand =
  | DomainCommand<'CreateContent', { contentId: string; schema: SchemaRef; data: unknown; publish: boolean }>
  | DomainCommand<'UpdateContent', { contentId: string; schema: SchemaRef; data: unknown; expectedVersion?: number }>
  | DomainCommand<'ChangeContentStatus', { contentId: string; schema: SchemaRef; status: string; expectedVersion?: number }>
  | DomainCommand<'DeleteContent', { contentId: string; schema: SchemaRef; expectedVersion?: number }>
  /** A rollback's: back to `target` (undefined: the content did not exist then), its schema as it lives after the rollback. */
  | DomainCommand<'RevertContent', { target: ContentRecord | undefined; schema: SchemaRef; reshow: boolean }>;

export const contentDecider: Decider<ContentState, ContentCommand, ContentEvent> = {
  initialState: () => ({ stage: 'new', schemaId: '', status: 'Draft', data: {}, version: -1 }),
  decide: decideBy({
    CreateContent: createContent,
    UpdateContent: updateContent,
    ChangeContentStatus: changeContentStatus,
    DeleteContent: deleteContent,
    RevertContent: (state, { target, schema, reshow }) => revertContent(state, target, schema, reshow),
  }),
  evolve: (state, event) => {
    const version = state.version + 1;
    switch (event.type) {
      case 'ContentCreated':
        return { stage: 'live', schemaId: event.data.schemaId, status: event.data.status, data: event.data.data, version };
      case 'ContentUpdated':
        return { ...state, data: event.data.data, version };
      case 'ContentStatusChanged':
        return { ...state, status: event.data.status, version };
      case 'ContentDeleted':
        return { ...state, stage: 'deleted', version };
      case 'ContentReverted':
        return { stage: 'live', schemaId: event.data.schemaId, status: event.data.status, data: event.data.data, version };
    }
  },
};

/** What a read shows of a content: its state plus who created it and when. */
export interface ContentRecord {
  state: ContentState;
  created: string;
  createdBy: string;
}

/**
 * A rollback's step for one content of a live schema: the events that take it from `current` to
 * `target` (its state at the point rolled back to). `reshow` when its schema comes back: the
 * schema's deletion took the content out of every read, so it is written again even if unchanged.
 */
function revertContent(current: ContentState, target: ContentRecord | undefined, schema: SchemaRef, reshow: boolean): ContentEvent[] {
  const wanted = target?.state;
  if (!wanted || wanted.stage !== 'live') return current.stage === 'live' ? [{ type: 'ContentDeleted', data: {} }] : [];
  const same = current.stage === 'live' && current.status === wanted.status && sameData(current.data, wanted.data);
  if (same && !reshow) return [];
  return [{ type: 'ContentReverted', data: { schemaId: schema.id, schemaName: schema.name, data: wanted.data, status: wanted.status, created: target.created, createdBy: target.createdBy } }];
}

/** A content of another schema is as absent as a deleted one: ids are not meant to be guessed across schemas. */
function live(state: ContentState, schema: SchemaRef, contentId: string): void {
  if (state.stage !== 'live' || state.schemaId !== schema.id) throw notFound(`Content ${contentId} does not exist in schema "${schema.name}"`);
}

function checkVersion(state: ContentState, expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && expectedVersion !== state.version) {
    throw conflict(`The content is at version ${state.version}, but If-Match asks for version ${expectedVersion}; reload it and apply your change again`);
  }
}

function createContent(state: ContentState, c: CommandData<ContentCommand, 'CreateContent'>): ContentEvent[] {
  if (state.stage !== 'new') throw conflict(`Content ${c.contentId} exists already`);
  const data = validateData(c.schema.name, c.schema.fields, c.data);
  return [{ type: 'ContentCreated', data: { contentId: c.contentId, schemaId: c.schema.id, schemaName: c.schema.name, data, status: c.publish ? 'Published' : 'Draft' } }];
}

/**
 * Archived content is frozen: editing it would change what is meant to be kept as it was, so it
 * has to be brought back to Draft (or Published) first. Unchanged data writes no event.
 */
function updateContent(state: ContentState, c: CommandData<ContentCommand, 'UpdateContent'>): ContentEvent[] {
  live(state, c.schema, c.contentId);
  const data = validateData(c.schema.name, c.schema.fields, c.data);
  checkVersion(state, c.expectedVersion);
  if (state.status === 'Archived') throw conflict(`Content ${c.contentId} is Archived; set its status to Draft or Published before changing its data`);
  if (sameData(data, state.data)) return [];
  return [{ type: 'ContentUpdated', data: { data } }];
}

export function isContentStatus(status: string): status is ContentStatus {
  return (CONTENT_STATUSES as readonly string[]).includes(status);
}

/** Every status may follow every other; setting the current one again is a no-op, so retries are safe. */
function changeContentStatus(state: ContentState, c: CommandData<ContentCommand, 'ChangeContentStatus'>): ContentEvent[] {
  live(state, c.schema, c.contentId);
  if (!isContentStatus(c.status)) throw invalid(`status: "${c.status}" is not a status; use one of ${CONTENT_STATUSES.join(', ')}`);
  checkVersion(state, c.expectedVersion);
  if (c.status === state.status) return [];
  return [{ type: 'ContentStatusChanged', data: { status: c.status } }];
}

function deleteContent(state: ContentState, c: CommandData<ContentCommand, 'DeleteContent'>): ContentEvent[] {
  live(state, c.schema, c.contentId);
  checkVersion(state, c.expectedVersion);
  return [{ type: 'ContentDeleted', data: {} }];
}

/**
 * The content stream in the event catalog: archived events pass the rules the content commands
 * apply, data checked against the content's schema as it was at that point of the history.
 */
export const contentStream = defineStream<ContentState, ContentEvent>({
  kind: 'content',
  place: 'entity',
  events: CONTENT_EVENTS,
  decider: contentDecider,
  // A diff compares a content's schema, status and each field of its data.
  diff: {
    report: 'contents',
    fieldPrefix: 'data.',
    entries: (state, contentId) =>
      state.stage === 'live'
        ? [{ id: contentId, label: contentId, properties: { schemaId: state.schemaId, status: state.status, ...Object.fromEntries(Object.entries(state.data).map(([name, value]) => [`data.${name}`, value])) } }]
        : [],
  },
  // A rollback's event names who created the content: users.json lists them, a restore maps them.
  users: {
    each: (event, visit) => {
      if (event.type === 'ContentReverted') visit(event.data.createdBy);
    },
    map: (event, to) => (event.type === 'ContentReverted' ? { ...event, data: { ...event.data, createdBy: to(event.data.createdBy) } } : event),
  },
  rollback: {
    report: 'contents',
    // A content's step needs to know what becomes of its schema.
    after: ['schema'],
    /**
     * A content of a schema that does not live after the rollback needs nothing: it is out of every
     * read either way, and comes back with its schema if a later rollback revives it.
     */
    revert: (contentId, history, context) => {
      let current: ContentState = contentDecider.initialState();
      let target: ContentRecord | undefined;
      let created = { at: '', by: '' };
      for (const stored of history) {
        current = contentDecider.evolve(current, stored);
        if (stored.type === 'ContentCreated') created = { at: stored.metadata.timestamp, by: stored.metadata.actor };
        if (stored.type === 'ContentReverted') created = { at: stored.data.created, by: stored.data.createdBy };
        if (stored.position <= context.targetPosition) target = { state: current, created: created.at, createdBy: created.by };
      }
      const schema = context.shared<SchemaRef>(SCHEMA_AFTER_ROLLBACK, current.schemaId);
      if (!schema) return undefined;
      const reshow = context.shared<boolean>(SCHEMA_REVIVED, current.schemaId) === true;
      const events = contentDecider.decide({ type: 'RevertContent', data: { target, schema, reshow } }, current);
      if (events.length === 0) return undefined;
      const visibleNow = current.stage === 'live' && !reshow;
      const visibleAfter = target?.state.stage === 'live';
      const change = !visibleAfter ? (visibleNow ? 'deleted' : 'changed') : visibleNow ? 'changed' : 'created';
      return { change, label: contentId, events };
    },
  },
  check: async (state, event, context) => {
    const contentId = context.entityId;
    const schemaId = event.type === 'ContentCreated' ? event.data.schemaId : state.schemaId;
    if (!schemaId) return 'the content does not exist at this point; ContentCreated must come first';
    const schemaState = await context.stateOf<SchemaState>('schema', schemaId);
    if (schemaState.status !== 'live') return `its schema ${schemaId} does not exist at this point`;
    const schema: SchemaRef = { id: schemaId, name: schemaState.name, fields: schemaState.fields };
    switch (event.type) {
      case 'ContentCreated':
        if (event.data.contentId !== contentId) return `its contentId ${event.data.contentId} is not the id of its stream (${contentId})`;
        if (event.data.schemaName !== schema.name) return `it names the schema "${event.data.schemaName}", but schema ${schemaId} is "${schema.name}"`;
        if (event.data.status === 'Archived') return 'a content is created as Draft or Published, never Archived';
        return ruleProblem(() => createContent(state, { contentId, schema, data: event.data.data, publish: event.data.status === 'Published' }));
      case 'ContentUpdated':
        return ruleProblem(() => updateContent(state, { contentId, schema, data: event.data.data }));
      case 'ContentStatusChanged':
        return ruleProblem(() => changeContentStatus(state, { contentId, schema, status: event.data.status }));
      case 'ContentDeleted':
        return ruleProblem(() => deleteContent(state, { contentId, schema }));
      case 'ContentReverted':
        if (state.stage === 'new') return 'the content does not exist at this point; ContentCreated must come first';
        if (event.data.schemaId !== state.schemaId) return `it moves the content to schema ${event.data.schemaId}; a content keeps its schema`;
        if (event.data.schemaName !== schema.name) return `it names the schema "${event.data.schemaName}", but schema ${schemaId} is "${schema.name}"`;
        if (event.data.createdBy !== SYSTEM_ACTOR && !context.knowsUser(event.data.createdBy)) return `user ${event.data.createdBy} is not in users.json`;
        // Data the content had before: it may predate a required field added since, as live contents may.
        return ruleProblem(() => validateData(schema.name, schema.fields.map((f) => ({ ...f, required: false })), event.data.data));
    }
  },
});
