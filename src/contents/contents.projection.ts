import { Inject, Injectable } from '@nestjs/common';
import type { Content } from '../contract/contents.schemas.js';
import { type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { appKey, READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import type { Projection } from '../eventsourcing/projection.js';
import type { ProjectionTx } from '../eventsourcing/projection-tx.js';
import { SchemasProjection } from '../schemas/schemas.projection.js';
import { searchableText } from './content-data.validation.js';
import type { ContentData, ContentEvent, ContentStatus } from './content.events.js';

export const CONTENTS_COLLECTION = 'contents';

export interface ContentDoc {
  id: string;
  appId: string;
  schemaId: string;
  /** The schema's name, which never changes while the schema lives. */
  schema: string;
  data: ContentData;
  status: ContentStatus;
  version: number;
  created: string;
  createdBy: string;
  lastModified: string;
  lastModifiedBy: string;
}

export type ContentView = Content;
export const toContentView = ({ appId: _appId, schemaId: _schemaId, ...content }: ContentDoc): ContentView => content;

/**
 * Contents of live schemas only. Deleting a schema removes its contents from every read (they are
 * no longer listed and answer 404) while their streams stay for history and backups: a content
 * means nothing without the fields that describe it, and a new schema that reuses the name must
 * start empty. `apply` sets state from each event, so replaying after a crash changes nothing.
 */
@Injectable()
export class ContentsProjection implements Projection {
  readonly name = 'contents';
  readonly contents: ReadCollection<ContentDoc>;

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    private readonly schemas: SchemasProjection,
  ) {
    this.contents = store.collection<ContentDoc>(CONTENTS_COLLECTION, {
      // The listing filters by app and schema and sorts newest first (ties: the newest id first, by
      // key): this index, which ends with the key, serves it read backwards, and removals by app.
      indexes: [['appId', 'schemaId', 'created']],
      fullText: (doc) => searchableText(doc.data),
      key: (doc) => appKey(doc.appId, doc.id),
    });
  }

  async apply(stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    const appId = stored.metadata.appId;
    if (!appId) return;
    if (stored.stream.startsWith('app-')) {
      if (stored.type === 'AppDeleted') this.clearApp(appId, tx);
      return;
    }
    const schemaId = streams.childId('schema', stored.stream);
    if (schemaId) {
      if (stored.type === 'SchemaDeleted') tx.of(this.contents).deleteWhere({ appId, schemaId });
      return;
    }
    const contentId = streams.childId('content', stored.stream);
    if (contentId) await this.applyContent(appId, contentId, stored, tx);
  }

  private async applyContent(appId: string, contentId: string, stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    const contents = tx.of(this.contents);
    const event = { type: stored.type, data: stored.data } as ContentEvent;
    const touch = { version: stored.streamVersion, lastModified: stored.metadata.timestamp, lastModifiedBy: stored.metadata.actor };
    if (event.type === 'ContentCreated') {
      // A create that raced its schema's deletion lands after SchemaDeleted; it must stay invisible.
      // The schemas projection stages in the same unit of work, so asking it is safe.
      if (!(await tx.of(this.schemas.schemas).get(appKey(appId, event.data.schemaId)))) return;
      contents.put({
        id: contentId,
        appId,
        schemaId: event.data.schemaId,
        schema: event.data.schemaName,
        data: event.data.data,
        status: event.data.status,
        created: stored.metadata.timestamp,
        createdBy: stored.metadata.actor,
        ...touch,
      });
      return;
    }
    if (event.type === 'ContentDeleted') {
      contents.delete(appKey(appId, contentId));
      return;
    }
    if (event.type === 'ContentReverted') {
      // Like a create, invisible while its schema is gone.
      if (!(await tx.of(this.schemas.schemas).get(appKey(appId, event.data.schemaId)))) return;
      const { schemaId, schemaName, data, status, created, createdBy } = event.data;
      contents.put({ id: contentId, appId, schemaId, schema: schemaName, data, status, created, createdBy, ...touch });
      return;
    }
    const content = await contents.get(appKey(appId, contentId));
    if (!content) return;
    switch (event.type) {
      case 'ContentUpdated':
        contents.put({ ...content, ...touch, data: event.data.data });
        return;
      case 'ContentStatusChanged':
        contents.put({ ...content, ...touch, status: event.data.status });
        return;
    }
  }

  clearApp(appId: string, tx: ProjectionTx): void {
    tx.of(this.contents).deleteWhere({ appId });
  }

  clearAll(tx: ProjectionTx): void {
    tx.of(this.contents).deleteWhere({});
  }
}
