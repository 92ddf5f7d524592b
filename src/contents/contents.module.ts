import { Module, type OnModuleInit } from '@nestjs/common';
import { BackupHandlerRegistry } from '../backup/backup-handler.registry.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { contentStream } from './content.aggregate.js';
import { SchemasModule } from '../schemas/schemas.module.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { ContentCommandPlanner } from './content.commands.js';
import { ContentsController } from './contents.http.controller.js';
import { ContentsBackupHandler } from './contents.backup-handler.js';
import { ContentsProjection } from './contents.projection.js';

@Module({
  imports: [SchemasModule],
  controllers: [ContentsController],
  providers: [ContentsProjection, ContentsBackupHandler, ContentCommandPlanner],
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
    private readonly commands: StreamCommandHandler,
    private readonly planner: ContentCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(contentStream);
    this.projections.register(this.projection);
    this.backups.register(this.backupHandler);
    this.commands.register(this.planner);
  }
}
