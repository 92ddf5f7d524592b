import { Injectable } from '@nestjs/common';
import type { ArchivedEvent, BackupHandler } from '../backup/backup-handler.port.js';
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

  constructor(private readonly projection: SchemasProjection) {}

  async checkSelection(appId: string, selection: BackupSelection): Promise<string[]> {
    const problems: string[] = [];
    for (const name of selection.schemas ?? []) {
      if (!(await this.projection.findByName(appId, name))) problems.push(`include.schemas: the app has no schema named "${name}"`);
    }
    return problems;
  }

  selectEvent(archived: ArchivedEvent, selection: StreamSelection): void {
    const event = archived as unknown as SchemaEvent;
    if (event.type !== 'SchemaCreated') return;
    if (selection.takesSchema(event.data.name)) selection.keep(archived.stream);
  }
}
