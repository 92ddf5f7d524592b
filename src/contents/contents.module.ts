import { Module, type OnModuleInit } from '@nestjs/common';
import { Projector } from '../platform/projection/projector.service.js';
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
    private readonly projector: Projector,
    private readonly projection: ContentsProjection,
  ) {}

  onModuleInit(): void {
    this.projector.register(this.projection);
  }
}
