import { Module, type OnModuleInit } from '@nestjs/common';
import { Projector } from '../platform/projection/projector.service.js';
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
    private readonly projector: Projector,
    private readonly projection: SchemasProjection,
  ) {}

  onModuleInit(): void {
    this.projector.register(this.projection);
  }
}
