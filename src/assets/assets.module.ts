import { Module, type OnModuleInit } from '@nestjs/common';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { assetStream } from './asset.aggregate.js';
import { AssetFilesService } from './asset-files.service.js';
import { assetsParticipant } from './assets.participant.js';
import { AssetsController } from './assets.http.controller.js';
import { AssetsProjection } from './assets.projection.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { AssetCommandPlanner } from './asset.commands.js';

@Module({
  controllers: [AssetsController],
  providers: [AssetsProjection, AssetFilesService, AssetCommandPlanner],
  exports: [AssetsProjection, AssetFilesService],
})
export class AssetsModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: AssetsProjection,
    private readonly participants: ArchiveParticipants,
    private readonly files: AssetFilesService,
    private readonly catalog: EventCatalog,
    private readonly commands: StreamCommandHandler,
    private readonly planner: AssetCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(assetStream);
    this.projections.register(this.projection);
    this.participants.register(assetsParticipant(this.files));
    this.commands.register(this.planner);
  }
}
