import { Module, type OnModuleInit } from '@nestjs/common';
import { BackupHandlerRegistry } from '../backup/backup-handler.registry.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { contentStream } from './content.aggregate.js';
import { SchemasModule } from '../schemas/schemas.module.js';
import { ChangeContentStatusHandler, DeleteContentHandler, UpdateContentHandler } from './commands/change-content.handlers.js';
import { ContentCommands } from './commands/content-commands.service.js';
import { CreateContentHandler } from './commands/create-content.handler.js';
import { ContentsController } from './contents.http.controller.js';
import { ContentsBackupHandler } from './contents.backup-handler.js';
import { ContentsProjection } from './contents.projection.js';

@Module({
  imports: [SchemasModule],
  controllers: [ContentsController],
  providers: [ContentsProjection, ContentsBackupHandler, ContentCommands, CreateContentHandler, UpdateContentHandler, ChangeContentStatusHandler, DeleteContentHandler],
  // A later backup/restore step reads and rebuilds the collection through the projection.
  exports: [ContentsProjection],
})
export class ContentsModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: ContentsProjection,
    private readonly catalog: EventCatalog,
    private readonly backups: BackupHandlerRegistry,
    private readonly backupHandler: ContentsBackupHandler,
  ) {}

  onModuleInit(): void {
    this.catalog.register(contentStream);
    this.projections.register(this.projection);
    this.backups.register(this.backupHandler);
  }
}
