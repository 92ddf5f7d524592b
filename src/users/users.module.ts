import { Module, type OnModuleInit } from '@nestjs/common';
import { PRINCIPAL_RESOLVER } from '../auth/auth.ports.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { userStream } from './user.aggregate.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { UserCommandPlanner } from './user.commands.js';
import { UsersController } from './users.http.controller.js';
import { UsersProjection } from './users.projection.js';
import { UsersService } from './users.service.js';
import { usersParticipant } from './users.participant.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';

@Module({
  controllers: [UsersController],
  providers: [UsersProjection, UsersService, UserCommandPlanner, { provide: PRINCIPAL_RESOLVER, useExisting: UsersService }],
  exports: [UsersService, UsersProjection, PRINCIPAL_RESOLVER],
})
export class UsersModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: UsersProjection,
    private readonly participants: ArchiveParticipants,
    private readonly users: UsersService,
    private readonly catalog: EventCatalog,
    private readonly commands: StreamCommandHandler,
    private readonly planner: UserCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(userStream);
    this.projections.register(this.projection);
    this.participants.register(usersParticipant(this.users));
    this.commands.register(this.planner);
  }
}
