import { Global, Module } from '@nestjs/common';
import { AppReplays } from './app-replays.service.js';
import { EventCatalog } from './event-catalog.service.js';
import { EventWriter } from './event-writer.service.js';
import { ProjectionEngine } from './projection-engine.service.js';
import { Projector } from './projector.service.js';
import { DomainRegistrar } from './domain-registrar.service.js';
import { StreamCommandHandler } from './stream-command.handler.js';

/** The event-sourcing core every domain module builds on: the catalog, the writer, the projections, the command handler. */
@Global()
@Module({
  providers: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler, DomainRegistrar],
  exports: [EventCatalog, ProjectionEngine, Projector, AppReplays, EventWriter, StreamCommandHandler, DomainRegistrar],
})
export class EventSourcingModule {}
