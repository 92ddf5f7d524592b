import { Injectable } from '@nestjs/common';
import type { ArchivedEvent, BackupHandler, RollbackContext, RollbackStep } from '../backup/backup-handler.port.js';
import { type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { revertSchema, schemaDecider, type SchemaState } from './schema.aggregate.js';
import type { BackupSelection, StreamSelection } from '../backup/backup-selection.js';
import type { SchemaEvent } from './schema.events.js';
import { SchemasProjection } from './schemas.projection.js';

/**
 * Schemas in partial backups: a schema is selected by its name, and every schema stream that was
 * ever created under a listed name is kept (a schema deleted and made again under the same name
 * is the history of that name).
 */
@Injectable()
export class SchemasBackupHandler implements BackupHandler {
  readonly name = 'schemas';
  readonly rollbackKind = 'schema' as const;

  constructor(private readonly projection: SchemasProjection) {}

  async checkSelection(appId: string, selection: BackupSelection): Promise<string[]> {
    const problems: string[] = [];
    for (const name of selection.schemas ?? []) {
      if (!(await this.projection.findByName(appId, name))) problems.push(`include.schemas: the app has no schema named "${name}"`);
    }
    return problems;
  }

  /**
   * Tells the contents' steps which schemas live after the rollback (with the fields they will
   * have) and which come back from deletion, whose contents must be shown again.
   */
  async rollbackEntity(events: readonly StoredEvent[], context: RollbackContext): Promise<RollbackStep | undefined> {
    const schemaId = streams.childId('schema', events[0]!.stream)!;
    let current: SchemaState = schemaDecider.initialState();
    let target = current;
    let created = '';
    for (const stored of events) {
      const event = { type: stored.type, data: stored.data } as SchemaEvent;
      current = schemaDecider.evolve(current, event);
      if (stored.position <= context.targetPosition) target = current;
      if (event.type === 'SchemaCreated') created = stored.metadata.timestamp;
    }
    if (target.status === 'live') context.share('schema', schemaId, { id: schemaId, name: target.name, fields: target.fields });
    if (target.status === 'live' && current.status !== 'live') context.share('schema-revived', schemaId, true);
    const revert = revertSchema(current, target, created);
    if (revert.length === 0) return undefined;
    const change = target.status !== 'live' ? 'deleted' : current.status !== 'live' ? 'created' : 'changed';
    return { change, label: target.status === 'live' ? target.name : current.name, events: revert };
  }

  selectEvent(archived: ArchivedEvent, selection: StreamSelection): void {
    const event = archived as unknown as SchemaEvent;
    if (event.type !== 'SchemaCreated') return;
    if (selection.takesSchema(event.data.name)) selection.keep(archived.stream);
  }
}
