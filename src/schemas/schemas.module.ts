import { Module, type OnModuleInit } from '@nestjs/common';
import { DomainRegistrar } from '../eventsourcing/domain-registrar.service.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { schemaStream } from './schema.aggregate.js';
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
    private readonly domain: DomainRegistrar,
    private readonly projection: SchemasProjection,
    private readonly planner: SchemaCommandPlanner,
    private readonly participants: ArchiveParticipants,
  ) {}

  onModuleInit(): void {
    this.domain.register({ stream: schemaStream, projection: this.projection, planner: this.planner });
    this.participants.register(schemasParticipant(this.projection));
  }
}
