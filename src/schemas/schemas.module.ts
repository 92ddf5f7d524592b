import { Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { schemaStream } from './schema.aggregate.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { SchemaCommandPlanner } from './schema.commands.js';
import { SchemasController } from './schemas.http.controller.js';
import { schemasParticipant } from './schemas.participant.js';
import { SchemasProjection } from './schemas.projection.js';

@Module({
  controllers: [SchemasController],
  providers: [SchemasProjection, SchemaCommandPlanner],
  // Contents validate against schemas; a later backup/restore step reads and rebuilds the collection.
  exports: [SchemasProjection],
})
export class SchemasModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: SchemasProjection,
    private readonly catalog: EventCatalog,
    private readonly participants: ArchiveParticipants,
    private readonly commands: StreamCommandHandler,
    private readonly planner: SchemaCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(schemaStream);
    this.projections.register(this.projection);
    this.participants.register(schemasParticipant(this.projection));
    this.commands.register(this.planner);
  }
}
