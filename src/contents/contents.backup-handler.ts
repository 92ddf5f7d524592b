import { Injectable } from '@nestjs/common';
import type { ArchivedEvent, BackupContext, BackupHandler, RestoreContext } from '../backup/backup-handler.port.js';
import { mappedUser } from '../backup/backup-handler.port.js';
import type { BackupSelection, StreamSelection } from '../backup/shared/backup-selection.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { appKey } from '../infrastructure/read-store/read-store.port.js';
import type { FieldType } from '../schemas/schema.events.js';
import type { SchemaEvent } from '../schemas/schema.events.js';
import type { ContentData, ContentEvent } from './content.events.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import { ContentsProjection } from './contents.projection.js';

/** Ids listed in a restore log line before "and N more". */
const LISTED_IDS = 20;

type ReferenceField = { name: string; kind: 'asset' | 'content' };

/** Field types whose values are ids of other entities of the app. */
const REFERENCE_KIND: Partial<Record<FieldType, ReferenceField['kind']>> = { Assets: 'asset', References: 'content' };

/**
 * Which fields of each schema hold ids, folded from the schema events as they go by (a content's
 * data is only read through its schema's fields).
 */
class ReferenceFields {
  private readonly bySchema = new Map<string, ReferenceField[]>();

  note(archived: ArchivedEvent): void {
    const schemaId = streams.childId('schema', archived.stream);
    if (!schemaId) return;
    const event = archived as unknown as SchemaEvent;
    const fields = event.type === 'SchemaCreated' ? event.data.fields : event.type === 'SchemaFieldAdded' ? [event.data.field] : [];
    for (const field of fields) {
      const kind = REFERENCE_KIND[field.type];
      if (kind) this.bySchema.set(schemaId, [...(this.bySchema.get(schemaId) ?? []), { name: field.name, kind }]);
    }
  }

  *idsIn(schemaId: string, data: ContentData): Iterable<[ReferenceField['kind'], string]> {
    for (const field of this.bySchema.get(schemaId) ?? []) {
      const value = data[field.name];
      if (!Array.isArray(value)) continue;
      for (const id of value) if (typeof id === 'string') yield [field.kind, id];
    }
  }
}

/** A content stream's schema, learnt from its first event (a content never changes schema). */
class ContentSchemas {
  readonly fields = new ReferenceFields();
  private readonly schemaOf = new Map<string, string>();

  /** The schema id and data of a content event that carries data. */
  dataOf(archived: ArchivedEvent): { contentId: string; schemaId: string; data: ContentData } | undefined {
    const contentId = streams.childId('content', archived.stream);
    if (!contentId) return undefined;
    const event = archived as unknown as ContentEvent;
    if (event.type === 'ContentCreated') this.schemaOf.set(archived.stream, event.data.schemaId);
    if (event.type !== 'ContentCreated' && event.type !== 'ContentUpdated') return undefined;
    const schemaId = this.schemaOf.get(archived.stream);
    return schemaId ? { contentId, schemaId, data: event.data.data } : undefined;
  }
}

/** A rollback's event carries the creator's user id, which a restore maps like every user id. */
function mapCreator(archived: ArchivedEvent, context: RestoreContext): ArchivedEvent {
  const event = archived as unknown as ContentEvent;
  if (event.type !== 'ContentReverted') return archived;
  return { ...archived, data: { ...event.data, createdBy: mappedUser(event.data.createdBy, archived, context) } };
}

/** What a restore saw: the ids it restored and the ids the contents' data point at. */
interface RestoreReferences {
  schemas: ContentSchemas;
  present: Record<ReferenceField['kind'], Set<string>>;
  referenced: Record<ReferenceField['kind'], Set<string>>;
}

/**
 * Contents in partial backups (a selected schema's contents, narrowed to listed ids, and the ids
 * their Assets and References fields name) and, on restore, the report of references that point
 * outside the archive: they stay in the data as plain ids, like every reference to a deleted entity.
 */
@Injectable()
export class ContentsBackupHandler implements BackupHandler {
  readonly name = 'contents';
  private readonly restoring = new WeakMap<RestoreContext, RestoreReferences>();

  constructor(private readonly projection: ContentsProjection) {}

  async checkSelection(appId: string, selection: BackupSelection): Promise<string[]> {
    const problems: string[] = [];
    const slicer = new TimeSlicer();
    for (const id of selection.contents ?? []) {
      await slicer.tick();
      const content = await this.projection.contents.get(appKey(appId, id));
      if (!content) problems.push(`include.contents: the app has no content with id "${id}"`);
      else if (selection.schemas && !selection.schemas.includes(content.schema)) {
        problems.push(`include.contents: content "${id}" belongs to schema "${content.schema}", which include.schemas does not name`);
      }
      if (problems.length >= LISTED_IDS) break;
    }
    return problems;
  }

  selectEvent(archived: ArchivedEvent, selection: StreamSelection): void {
    const seen = selection.state(this.name, () => new ContentSchemas());
    seen.fields.note(archived);
    const event = archived as unknown as ContentEvent;
    if (event.type === 'ContentCreated') {
      if (selection.isKept(streams.child('schema', selection.appId, event.data.schemaId)) && selection.takesContent(event.data.contentId)) {
        selection.keep(archived.stream);
      }
    }
    if (!selection.isKept(archived.stream)) return;
    const carried = seen.dataOf(archived);
    if (carried) for (const [kind, id] of seen.fields.idsIn(carried.schemaId, carried.data)) selection.refer(kind, id);
  }

  /** A rollback's event names who created the content: users.json must list them. */
  async backupEvents(events: readonly ArchivedEvent[], context: BackupContext): Promise<void> {
    for (const archived of events) {
      const event = archived as unknown as ContentEvent;
      if (event.type === 'ContentReverted') context.mentionUser(event.data.createdBy);
    }
  }

  async restoreEvent(archived: ArchivedEvent, context: RestoreContext): Promise<ArchivedEvent> {
    const event = mapCreator(archived, context);
    let seen = this.restoring.get(context);
    if (!seen) {
      seen = { schemas: new ContentSchemas(), present: { asset: new Set(), content: new Set() }, referenced: { asset: new Set(), content: new Set() } };
      this.restoring.set(context, seen);
    }
    seen.schemas.fields.note(event);
    const assetId = event.type === 'AssetCreated' ? streams.childId('asset', event.stream) : undefined;
    if (assetId) seen.present.asset.add(assetId);
    const carried = seen.schemas.dataOf(event);
    if (carried) {
      seen.present.content.add(carried.contentId);
      for (const [kind, id] of seen.schemas.fields.idsIn(carried.schemaId, carried.data)) seen.referenced[kind].add(id);
    }
    return event;
  }

  /** Logs the references that point at nothing the archive holds (a partial backup's usual case). */
  async summarizeRestore(context: RestoreContext): Promise<void> {
    const seen = this.restoring.get(context);
    this.restoring.delete(context);
    if (!seen) return;
    for (const kind of ['content', 'asset'] as const) {
      const dangling = [...seen.referenced[kind]].filter((id) => !seen.present[kind].has(id));
      if (dangling.length === 0) continue;
      const listed = dangling.slice(0, LISTED_IDS).join(', ');
      const more = dangling.length > LISTED_IDS ? ` and ${dangling.length - LISTED_IDS} more` : '';
      context.log(`Dangling references: the contents name ${dangling.length} ${kind}${dangling.length === 1 ? '' : 's'} the archive does not hold (${listed}${more}); they are kept as plain ids`);
    }
  }
}
