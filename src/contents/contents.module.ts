import { Module, type OnModuleInit } from '@nestjs/common';
import { ProjectionEngine } from '../platform/projection/projection-engine.service.js';
import { SchemasModule } from '../schemas/schemas.module.js';
import { ChangeContentStatusHandler, DeleteContentHandler, UpdateContentHandler } from './commands/change-content.handlers.js';
import { ContentCommandRunner } from './commands/content-command.runner.js';
import { CreateContentHandler } from './commands/create-content.handler.js';
import { ContentsController } from './contents.http.controller.js';
import { ContentsProjection } from './contents.projection.js';

@Module({
  imports: [SchemasModule],
  controllers: [ContentsController],
  providers: [ContentsProjection, ContentCommandRunner, CreateContentHandler, UpdateContentHandler, ChangeContentStatusHandler, DeleteContentHandler],
  // A later backup/restore step reads and rebuilds the collection through the projection.
  exports: [ContentsProjection],
})
export class ContentsModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: ContentsProjection,
  ) {}

  onModuleInit(): void {
    this.projections.register(this.projection);
  }
}
