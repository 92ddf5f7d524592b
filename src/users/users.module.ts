import { Module, type OnModuleInit } from '@nestjs/common';
import { PRINCIPAL_RESOLVER } from '../auth/auth.ports.js';
import { userStream } from './user.aggregate.js';
import { UserCommandPlanner } from './user.commands.js';
import { UsersController } from './users.http.controller.js';
import { UsersProjection } from './users.projection.js';
import { UsersService } from './users.service.js';
import { usersParticipant } from './users.participant.js';
import { DomainRegistrar } from '../eventsourcing/domain-registrar.service.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';

@Module({
  controllers: [UsersController],
  providers: [UsersProjection, UsersService, UserCommandPlanner, { provide: PRINCIPAL_RESOLVER, useExisting: UsersService }],
  exports: [UsersService, UsersProjection, PRINCIPAL_RESOLVER],
})
export class UsersModule implements OnModuleInit {
  constructor(
    private readonly domain: DomainRegistrar,
    private readonly projection: UsersProjection,
    private readonly planner: UserCommandPlanner,
    private readonly participants: ArchiveParticipants,
    private readonly users: UsersService,
  ) {}

  onModuleInit(): void {
    this.domain.register({ stream: userStream, projection: this.projection, planner: this.planner });
    this.participants.register(usersParticipant(this.users));
  }
}
