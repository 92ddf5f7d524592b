import { Inject, Injectable } from '@nestjs/common';
import type { Schema } from '../contract/app-schemas.schemas.js';
import { type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { appKey, READ_STORE, type ReadCollection, type ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { notFound } from '../platform/domain-errors.js';
import type { Projection } from '../eventsourcing/projection.js';
import type { ProjectionTx } from '../eventsourcing/projection-tx.js';
import type { SchemaEvent, SchemaField } from './schema.events.js';

export const SCHEMAS_COLLECTION = 'schemas';

export interface SchemaDoc {
  id: string;
  appId: string;
  name: string;
  fields: SchemaField[];
  version: number;
  created: string;
  lastModified: string;
}

export type SchemaView = Schema;
export const toSchemaView = ({ appId: _appId, ...schema }: SchemaDoc): SchemaView => schema;

/**
 * Live schemas only: a deleted schema's document is removed, which is what frees its name for
 * reuse. `apply` sets state from each event, so replaying events after a crash changes nothing.
 */
@Injectable()
export class SchemasProjection implements Projection {
  readonly name = 'schemas';
  readonly schemas: ReadCollection<SchemaDoc>;

  constructor(@Inject(READ_STORE) store: ReadStore) {
    this.schemas = store.collection<SchemaDoc>(SCHEMAS_COLLECTION, { indexes: [['appId', 'name']], key: (doc) => appKey(doc.appId, doc.id), cacheLookups: true });
  }

  findByName(appId: string, name: string): Promise<SchemaDoc | undefined> {
    return this.schemas.findOne({ appId, name });
  }

  /** Resolves the name in a path to a live schema of the app; 404 otherwise. */
  async resolve(appId: string, name: string): Promise<SchemaDoc> {
    const schema = await this.findByName(appId, name);
    if (!schema) throw notFound(`Schema "${name}" does not exist in this app`);
    return schema;
  }

  /** The schema as a command that just changed it sees it; only a racing delete leaves nothing. */
  async read(appId: string, schemaId: string, name: string): Promise<SchemaDoc> {
    const schema = await this.schemas.get(appKey(appId, schemaId));
    if (!schema) throw notFound(`Schema "${name}" does not exist in this app`);
    return schema;
  }

  async apply(stored: StoredEvent, tx: ProjectionTx): Promise<void> {
    const appId = stored.metadata.appId;
    if (!appId) return;
    if (stored.stream.startsWith('app-') && stored.type === 'AppDeleted') {
      this.clearApp(appId, tx);
      return;
    }
    const schemas = tx.of(this.schemas);
    const schemaId = streams.childId('schema', stored.stream);
    if (!schemaId) return;
    const event = { type: stored.type, data: stored.data } as SchemaEvent;
    const touch = { version: stored.streamVersion, lastModified: stored.metadata.timestamp };
    switch (event.type) {
      case 'SchemaCreated':
        schemas.put({ id: schemaId, appId, name: event.data.name, fields: event.data.fields, created: stored.metadata.timestamp, ...touch });
        return;
      case 'SchemaFieldAdded': {
        const schema = await schemas.get(appKey(appId, schemaId));
        if (!schema) return;
        // Replace rather than append, so a replayed event does not add the field twice.
        const at = schema.fields.findIndex((f) => f.name === event.data.field.name);
        const fields = at < 0 ? [...schema.fields, event.data.field] : schema.fields.map((f, i) => (i === at ? event.data.field : f));
        schemas.put({ ...schema, ...touch, fields });
        return;
      }
      case 'SchemaDeleted':
        schemas.delete(appKey(appId, schemaId));
        return;
      case 'SchemaReverted':
        schemas.put({ id: schemaId, appId, name: event.data.name, fields: event.data.fields, created: event.data.created, ...touch });
        return;
    }
  }

  clearApp(appId: string, tx: ProjectionTx): void {
    tx.of(this.schemas).deleteWhere({ appId });
  }

  clearAll(tx: ProjectionTx): void {
    tx.of(this.schemas).deleteWhere({});
  }
}
