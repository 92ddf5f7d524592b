import { Module, type OnModuleInit } from '@nestjs/common';
import { PRINCIPAL_RESOLVER } from '../platform/auth/auth.ports.js';
import { ProjectionEngine } from '../platform/projection/projection-engine.service.js';
import { CreateUserHandler } from './commands/create-user.handler.js';
import { UsersController } from './users.http.controller.js';
import { UsersProjection } from './users.projection.js';
import { UsersService } from './users.service.js';
import { UsersBackupHandler } from './users.backup-handler.js';
import { BackupHandlerRegistry } from '../backup/backup-handler.registry.js';

@Module({
  controllers: [UsersController],
  providers: [UsersProjection, UsersService, UsersBackupHandler, CreateUserHandler, { provide: PRINCIPAL_RESOLVER, useExisting: UsersService }],
  exports: [UsersService, UsersProjection, PRINCIPAL_RESOLVER],
})
export class UsersModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: UsersProjection,
    private readonly backups: BackupHandlerRegistry,
    private readonly backupHandler: UsersBackupHandler,
  ) {}

  onModuleInit(): void {
    this.projections.register(this.projection);
    this.backups.register(this.backupHandler);
  }
}
