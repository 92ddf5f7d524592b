import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import type { ArchivedEvent, BackupHandler, RollbackContext, RollbackStep } from '../backup/backup-handler.port.js';
import { type StoredEvent, streams } from '../infrastructure/event-store/event-store.port.js';
import { revertSchema, schemaDecider, type SchemaState } from './schema.aggregate.js';
import type { BackupSelection, StreamSelection } from '../backup/shared/backup-selection.js';
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

  constructor(
    private readonly projection: SchemasProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

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
    let deletedSince = false;
    for (const stored of events) {
      const event = { type: stored.type, data: stored.data } as SchemaEvent;
      current = schemaDecider.evolve(current, event);
      if (stored.position <= context.targetPosition) target = current;
      else if (event.type === 'SchemaDeleted') deletedSince = true;
      if (event.type === 'SchemaCreated') created = stored.metadata.timestamp;
    }
    if (target.status === 'live') context.share('schema', schemaId, { id: schemaId, name: target.name, fields: target.fields });
    // Deleted since the target, its contents left every read: they are written again, also when an
    // earlier, interrupted rollback has revived the schema already but not yet its contents.
    if (target.status === 'live' && (current.status !== 'live' || deletedSince)) context.share('schema-revived', schemaId, true);
    const revert = revertSchema(current, target, created);
    if (revert.length === 0) return undefined;
    const change = target.status !== 'live' ? 'deleted' : current.status !== 'live' ? 'created' : 'changed';
    const claim = claims.schemaName(context.appId, target.status === 'live' ? target.name : current.name);
    // The name claims follow, as the schema commands keep them: freed on delete, taken on revival.
    const afterAppend =
      change === 'deleted'
        ? () => this.names.releaseOwned(claim, schemaId)
        : change === 'created'
          ? async () => this.names.commit(claim, await this.names.reserve(claim, this.config.nameReservationTtlMs, schemaId), schemaId)
          : undefined;
    return { change, label: target.status === 'live' ? target.name : current.name, events: revert, afterAppend };
  }

  selectEvent(archived: ArchivedEvent, selection: StreamSelection): void {
    const event = archived as unknown as SchemaEvent;
    if (event.type !== 'SchemaCreated') return;
    if (selection.takesSchema(event.data.name)) selection.keep(archived.stream);
  }
}
