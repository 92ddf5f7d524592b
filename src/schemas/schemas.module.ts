import { Module, type OnModuleInit } from '@nestjs/common';
import { BackupHandlerRegistry } from '../backup/backup-handler.registry.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { schemaStream } from './schema.aggregate.js';
import { AddSchemaFieldHandler, DeleteSchemaHandler } from './commands/change-schema.handlers.js';
import { CreateSchemaHandler } from './commands/create-schema.handler.js';
import { SchemasController } from './schemas.http.controller.js';
import { SchemasBackupHandler } from './schemas.backup-handler.js';
import { SchemasProjection } from './schemas.projection.js';

@Module({
  controllers: [SchemasController],
  providers: [SchemasProjection, SchemasBackupHandler, CreateSchemaHandler, AddSchemaFieldHandler, DeleteSchemaHandler],
  // Contents validate against schemas; a later backup/restore step reads and rebuilds the collection.
  exports: [SchemasProjection],
})
export class SchemasModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: SchemasProjection,
    private readonly catalog: EventCatalog,
    private readonly backups: BackupHandlerRegistry,
    private readonly backupHandler: SchemasBackupHandler,
  ) {}

  onModuleInit(): void {
    this.catalog.register(schemaStream);
    this.projections.register(this.projection);
    this.backups.register(this.backupHandler);
  }
}
