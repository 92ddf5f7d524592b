import type { ArchivedEvent } from '../archive/archive-format.js';
import type { ArchiveParticipant, RestoreContext, RestoreParticipant, RestoreSession } from '../archive/archive-participant.port.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { appKey } from '../infrastructure/read-store/read-store.port.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import { schemaStream, type SchemaState } from '../schemas/schema.aggregate.js';
import type { FieldType } from '../schemas/schema.events.js';
import { contentStream } from './content.aggregate.js';
import type { ContentsProjection } from './contents.projection.js';

/** Ids listed in a restore log line before "and N more". */
const LISTED_IDS = 20;

/** The kinds of entity a content's data may point at: the streams those ids name. */
type ReferenceKind = 'asset' | 'content';
const REFERENCE_KINDS: readonly ReferenceKind[] = ['content', 'asset'];
type ReferenceField = { name: string; kind: ReferenceKind };
const NO_FIELDS: readonly ReferenceField[] = [];

/** Field types whose values are ids of other entities of the app. */
const REFERENCE_KIND: Partial<Record<FieldType, ReferenceKind>> = { Assets: 'asset', References: 'content' };

/** Each content's schema by the content's stream: a Map, or a restore's scratch keys (RestoreContext.keys). */
type SchemaOfContents = { get(stream: string): string | undefined; set(stream: string, schemaId: string): unknown };

/**
 * What the contents' data point at, followed event by event: each schema's state folded with the
 * schema decider (every schema event counts, a rollback's SchemaReverted too), its reference
 * fields taken from that state, and each content's schema (a content never changes schema).
 */
class ContentReferences {
  private readonly fieldsOf = new Map<string, { state: SchemaState; fields: ReferenceField[] }>();

  constructor(private readonly schemaOf: SchemaOfContents = new Map<string, string>()) {}

  /** Folds a schema event; for a content event that carries data, calls `visit` with each id its reference fields hold. */
  follow(event: ArchivedEvent, visit?: (kind: ReferenceKind, id: string) => void): void {
    if (schemaStream.holds(event)) {
      const schemaId = streams.childId('schema', event.stream)!;
      const state = schemaStream.decider.evolve(this.fieldsOf.get(schemaId)?.state ?? schemaStream.decider.initialState(), event);
      const fields = state.fields.flatMap((field) => (REFERENCE_KIND[field.type] ? [{ name: field.name, kind: REFERENCE_KIND[field.type]! }] : []));
      this.fieldsOf.set(schemaId, { state, fields });
      return;
    }
    if (!contentStream.holds(event)) return;
    if (event.type === 'ContentCreated' || event.type === 'ContentReverted') this.schemaOf.set(event.stream, event.data.schemaId);
    if (!visit || (event.type !== 'ContentCreated' && event.type !== 'ContentUpdated' && event.type !== 'ContentReverted')) return;
    const schemaId = this.schemaOf.get(event.stream);
    for (const field of (schemaId && this.fieldsOf.get(schemaId)?.fields) || NO_FIELDS) {
      const value = event.data.data[field.name];
      if (!Array.isArray(value)) continue;
      for (const id of value) if (typeof id === 'string') visit(field.kind, id);
    }
  }
}

/**
 * On restore (and in its rehearsals): the report of references that point outside the archive
 * (a partial backup's usual case). They stay in the data as plain ids, like every reference to a
 * deleted entity.
 */
export const contentsRestore: RestoreParticipant = {
  name: 'contents',
  restore: reportDangling,
};

/**
 * Contents in partial backups (a selected schema's contents, narrowed to listed ids, and the ids
 * their Assets and References fields name) and, on restore, contentsRestore.
 */
export function contentsParticipant(projection: Pick<ContentsProjection, 'contents'>): ArchiveParticipant {
  return {
    ...contentsRestore,
    async checkSelection(appId, selection) {
      const problems: string[] = [];
      const slicer = new TimeSlicer();
      for (const id of selection.contents ?? []) {
        await slicer.tick();
        const content = await projection.contents.get(appKey(appId, id));
        if (!content) problems.push(`include.contents: the app has no content with id "${id}"`);
        else if (selection.schemas && !selection.schemas.includes(content.schema)) {
          problems.push(`include.contents: content "${id}" belongs to schema "${content.schema}", which include.schemas does not name`);
        }
        if (problems.length >= LISTED_IDS) break;
      }
      return problems;
    },
    backup: ({ appId, selection }) => {
      const listed = selection?.contents ? new Set(selection.contents) : null;
      const references = new ContentReferences();
      let refer: ((kind: ReferenceKind, id: string) => void) | undefined;
      return {
        select: (event, kept) => {
          refer ??= (kind, id) => kept.refer(kind, id);
          if (contentStream.holds(event) && event.type === 'ContentCreated') {
            if (kept.isKept(streams.child('schema', appId, event.data.schemaId)) && (listed === null || listed.has(event.data.contentId))) kept.keep(event.stream);
          }
          references.follow(event, kept.isKept(event.stream) ? refer : undefined);
        },
      };
    },
  };
}

/** The scratch sets of reportDangling (RestoreContext.keys): each content's schema, and the ids present and referenced, by kind. */
const SCHEMA_OF = 'contents.schemaOf';
const presentSet = (kind: ReferenceKind) => `contents.present.${kind}`;
const referencedSet = (kind: ReferenceKind) => `contents.referenced.${kind}`;

function reportDangling(context: RestoreContext): RestoreSession {
  // One key per content and per referenced id: kept in the restore's scratch file, not the heap.
  const { keys } = context;
  const references = new ContentReferences({ get: (stream) => keys.get(SCHEMA_OF, stream), set: (stream, schemaId) => keys.put(SCHEMA_OF, stream, schemaId) });
  const refer = (kind: ReferenceKind, id: string) => void keys.add(referencedSet(kind), id);
  return {
    mapEvent: (event) => {
      // An entity is in the archive when its stream is: noted at the stream's first event.
      if (event.streamVersion === 0) {
        for (const kind of REFERENCE_KINDS) {
          const id = streams.childId(kind, event.stream);
          if (id) keys.add(presentSet(kind), id);
        }
      }
      references.follow(event, refer);
      return event;
    },
    summarize: async () => {
      const slicer = new TimeSlicer();
      for (const kind of REFERENCE_KINDS) {
        // In pages of ids, in order, with turns for the event loop in between: there may be hundreds of thousands.
        const listed: string[] = [];
        let dangling = 0;
        for (const page of keys.pages(referencedSet(kind))) {
          for (const id of page) {
            if (keys.has(presentSet(kind), id)) continue;
            dangling += 1;
            if (listed.length < LISTED_IDS) listed.push(id);
          }
          await slicer.tick();
        }
        if (dangling === 0) continue;
        const more = dangling > LISTED_IDS ? ` and ${dangling - LISTED_IDS} more` : '';
        context.log(`Dangling references: the contents name ${dangling} ${kind}${dangling === 1 ? '' : 's'} the archive does not hold (${listed.join(', ')}${more}); they are kept as plain ids`);
      }
    },
  };
}
