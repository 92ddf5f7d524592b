import { Module, type OnModuleInit } from '@nestjs/common';
import { ProjectionEngine } from '../platform/projection/projection-engine.service.js';
import { AddSchemaFieldHandler, DeleteSchemaHandler } from './commands/change-schema.handlers.js';
import { CreateSchemaHandler } from './commands/create-schema.handler.js';
import { SchemaCommandRunner } from './commands/schema-command.runner.js';
import { SchemasController } from './schemas.http.controller.js';
import { SchemasProjection } from './schemas.projection.js';

@Module({
  controllers: [SchemasController],
  providers: [SchemasProjection, SchemaCommandRunner, CreateSchemaHandler, AddSchemaFieldHandler, DeleteSchemaHandler],
  // Contents validate against schemas; a later backup/restore step reads and rebuilds the collection.
  exports: [SchemasProjection, SchemaCommandRunner],
})
export class SchemasModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: SchemasProjection,
  ) {}

  onModuleInit(): void {
    this.projections.register(this.projection);
  }
}
