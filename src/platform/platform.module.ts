import { Global, Module } from '@nestjs/common';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { EventWriter } from '../eventsourcing/event-writer.service.js';
import { AppReplays } from '../eventsourcing/app-replays.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { Projector } from '../eventsourcing/projector.service.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { StartupService } from './startup/startup.service.js';

@Global()
@Module({
  providers: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler, StartupService],
  exports: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler, StartupService],
})
export class PlatformModule {}
