import { Module, type OnModuleInit } from '@nestjs/common';
import { DomainRegistrar } from '../eventsourcing/domain-registrar.service.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { assetStream } from './asset.aggregate.js';
import { AssetFilesService } from './asset-files.service.js';
import { assetsParticipant } from './assets.participant.js';
import { AssetsController } from './assets.http.controller.js';
import { AssetsProjection } from './assets.projection.js';
import { AssetCommandPlanner } from './asset.commands.js';

@Module({
  controllers: [AssetsController],
  providers: [AssetsProjection, AssetFilesService, AssetCommandPlanner],
  exports: [AssetsProjection, AssetFilesService],
})
export class AssetsModule implements OnModuleInit {
  constructor(
    private readonly domain: DomainRegistrar,
    private readonly projection: AssetsProjection,
    private readonly planner: AssetCommandPlanner,
    private readonly participants: ArchiveParticipants,
    private readonly files: AssetFilesService,
  ) {}

  onModuleInit(): void {
    this.domain.register({ stream: assetStream, projection: this.projection, planner: this.planner });
    this.participants.register(assetsParticipant(this.files));
  }
}
