import { Global, Module } from '@nestjs/common';
import { EventCatalog } from './events/event-catalog.service.js';
import { EventWriter } from './events/event-writer.service.js';
import { AppReplays } from './projection/app-replays.service.js';
import { ProjectionEngine } from './projection/projection-engine.service.js';
import { Projector } from './projection/projector.service.js';
import { JobRegistry } from './shutdown/job-registry.service.js';
import { StartupService } from './startup/startup.service.js';

@Global()
@Module({
  providers: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StartupService, JobRegistry],
  exports: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StartupService, JobRegistry],
})
export class PlatformModule {}
