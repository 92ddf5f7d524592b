import { Module, type OnModuleInit } from '@nestjs/common';
import { DomainRegistrar } from '../eventsourcing/domain-registrar.service.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { contentStream } from './content.aggregate.js';
import { SchemasModule } from '../schemas/schemas.module.js';
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
    private readonly domain: DomainRegistrar,
    private readonly projection: ContentsProjection,
    private readonly planner: ContentCommandPlanner,
    private readonly participants: ArchiveParticipants,
  ) {}

  onModuleInit(): void {
    this.domain.register({ stream: contentStream, projection: this.projection, planner: this.planner });
    this.participants.register(contentsParticipant(this.projection));
  }
}
