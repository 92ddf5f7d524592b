import { type DynamicModule, Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { InfrastructureModule } from './infrastructure/infrastructure.module.js';
import type { DataDirLock } from './infrastructure/data-dir.lock.js';
import { AccessGuard } from './platform/auth/access.guard.js';
import { DomainExceptionFilter } from './platform/http/domain-exception.filter.js';
import { validationPipe } from './platform/http/validation.js';
import { HealthController } from './platform/http/health.http.controller.js';
import { PlatformModule } from './platform/platform.module.js';
import { AdminPageModule } from './platform/http/admin-page.module.js';
import { Projector } from './eventsourcing/projector.service.js';
import { StartupGuard } from './platform/startup/startup.guard.js';
import { StartupService } from './platform/startup/startup.service.js';
import { AppsModule } from './apps/apps.module.js';
import { UsersModule } from './users/users.module.js';
import { UsersService } from './users/users.service.js';
import { SchemasModule } from './schemas/schemas.module.js';
import { ContentsModule } from './contents/contents.module.js';
import { AssetsModule } from './assets/assets.module.js';
import { BackupHandlersModule } from './backup/backup-handler.registry.js';
import { BackupsModule } from './backup/backups.module.js';
import { ArchiveChecksModule } from './archive/archive-checks.module.js';
import { JobProcessor } from './jobs/job-processor.service.js';
import { JobsModule } from './jobs/jobs.module.js';
import { BackupScheduler } from './backup/schedule/backup-scheduler.service.js';
import { RepositoriesModule } from './repositories/repositories.module.js';
import { StaleUploadSweeper } from './repositories/sweep/stale-upload-sweeper.service.js';

/**
 * Start-up order matters and is spelled out here: restores a dead process left are undone, then
 * projections catch up (so every read model reflects the store), then the first admin is ensured,
 * then backups a dead process left are marked Failed. All of it runs in the background: the server
 * listens at once, health says `starting`, and other requests wait until it is done.
 */
const DATA_DIR_LOCK = Symbol('DATA_DIR_LOCK');

@Module({})
export class AppModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly projector: Projector,
    private readonly users: UsersService,
    private readonly jobs: JobProcessor,
    private readonly scheduler: BackupScheduler,
    private readonly startup: StartupService,
    private readonly sweeper: StaleUploadSweeper,
    @Inject(DATA_DIR_LOCK) private readonly lock: DataDirLock,
  ) {}

  static forRoot(config: AppConfig, lock: DataDirLock): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), CqrsModule.forRoot(), InfrastructureModule, PlatformModule, JobsModule, RepositoriesModule, BackupHandlersModule, UsersModule, AppsModule, SchemasModule, ContentsModule, AssetsModule, BackupsModule, ArchiveChecksModule, AdminPageModule.forRoot()],
      controllers: [HealthController],
      providers: [
        // Guards run in this order: requests wait for start-up before their key is checked.
        { provide: APP_GUARD, useClass: StartupGuard },
        { provide: APP_GUARD, useClass: AccessGuard },
        { provide: APP_FILTER, useClass: DomainExceptionFilter },
        { provide: APP_PIPE, useFactory: validationPipe },
        { provide: DATA_DIR_LOCK, useValue: lock },
      ],
    };
  }

  /** The root module shuts down last: the stores are closed by now, so the folder is free. */
  onApplicationShutdown(): void {
    this.lock.release();
  }

  onApplicationBootstrap(): void {
    this.startup.run(async () => {
      // Interrupted restores go first: their half-written apps are purged before projections catch up.
      await this.jobs.recoverInterrupted('before-catch-up');
      await this.projector.start();
      await this.users.bootstrapAdmin();
      // Then backups a dead process left are marked Failed, and rollbacks settled (their marker event says how far they got).
      await this.jobs.recoverInterrupted('after-catch-up');
      // Jobs of other processes on the same stores whose process dies later are settled by the
      // sweeps, and restores and rollbacks other processes accept are picked up by the one projecting.
      this.jobs.startSweeping();
      this.scheduler.start();
      // In the background: a repository that is down is logged, never holds start-up up.
      this.sweeper.start();
    });
  }
}
