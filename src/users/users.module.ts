import { Module, type OnModuleInit } from '@nestjs/common';
import { PRINCIPAL_RESOLVER } from '../platform/auth/auth.ports.js';
import { Projector } from '../platform/projection/projector.service.js';
import { CreateUserHandler } from './commands/create-user.handler.js';
import { UsersController } from './users.http.controller.js';
import { UsersProjection } from './users.projection.js';
import { UsersService } from './users.service.js';

@Module({
  controllers: [UsersController],
  providers: [UsersProjection, UsersService, CreateUserHandler, { provide: PRINCIPAL_RESOLVER, useExisting: UsersService }],
  exports: [UsersService, UsersProjection, PRINCIPAL_RESOLVER],
})
export class UsersModule implements OnModuleInit {
  constructor(
    private readonly projector: Projector,
    private readonly projection: UsersProjection,
  ) {}

  onModuleInit(): void {
    this.projector.register(this.projection);
  }
}
