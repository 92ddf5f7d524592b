import { Injectable } from '@nestjs/common';
import type { DomainCommand, DomainEvent } from './decider.js';
import { EventCatalog } from './event-catalog.service.js';
import type { StreamDefinition } from './event-catalog.js';
import type { Projection } from './projection.js';
import { ProjectionEngine } from './projection-engine.service.js';
import { type CommandPlanner, type StreamCommand, StreamCommandHandler } from './stream-command.handler.js';

/** What a domain module brings to the kernel: its stream's definition, its read model and how its commands are planned. */
export interface DomainParts<K extends StreamCommand<unknown>, S, C extends DomainCommand, E extends DomainEvent> {
  stream: StreamDefinition<S, E>;
  projection: Projection;
  planner: CommandPlanner<K, S, C, E>;
}

/**
 * The one call a domain module makes at start-up (in onModuleInit, before the projector starts):
 * its events become known to the catalog, its projection to the engine and its planner to the
 * command handler, so no module wires the three by hand.
 */
@Injectable()
export class DomainRegistrar {
  constructor(
    private readonly catalog: EventCatalog,
    private readonly projections: ProjectionEngine,
    private readonly commands: StreamCommandHandler,
  ) {}

  register<K extends StreamCommand<unknown>, S, C extends DomainCommand, E extends DomainEvent>(parts: DomainParts<K, S, C, E>): void {
    this.catalog.register(parts.stream);
    this.projections.register(parts.projection);
    this.commands.register(parts.planner);
  }
}
