import { Global, Module } from '@nestjs/common';
import { AppReplays } from './app-replays.service.js';
import { EventCatalog } from './event-catalog.service.js';
import { EventWriter } from './event-writer.service.js';
import { ProjectionEngine } from './projection-engine.service.js';
import { Projector } from './projector.service.js';
import { StreamCommandHandler } from './stream-command.handler.js';

/** The event-sourcing core every domain module builds on: the catalog, the writer, the projections, the command handler. */
@Global()
@Module({
  providers: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler],
  exports: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler],
})
export class EventSourcingModule {}
