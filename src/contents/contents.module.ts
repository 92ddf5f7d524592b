import { Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { contentStream } from './content.aggregate.js';
import { SchemasModule } from '../schemas/schemas.module.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { ContentCommandPlanner } from './content.commands.js';
import { ContentsController } from './contents.http.controller.js';
import { contentsParticipant } from './contents.participant.js';
import { ContentsProjection } from './contents.projection.js';

@Module({
  imports: [SchemasModule],
  controllers: [ContentsController],
  providers: [ContentsProjection, ContentCommandPlanner],
  // A later backup/restore step reads and rebuilds the collection through the projection.
  exports: [ContentsProjection],
})
export class ContentsModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: ContentsProjection,
    private readonly catalog: EventCatalog,
    private readonly participants: ArchiveParticipants,
    private readonly commands: StreamCommandHandler,
    private readonly planner: ContentCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(contentStream);
    this.projections.register(this.projection);
    this.participants.register(contentsParticipant(this.projection));
    this.commands.register(this.planner);
  }
}
