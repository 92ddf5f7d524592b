import { Global, Module } from '@nestjs/common';
import { RepositoryBackupsService } from './listing/repository-backups.service.js';
import { LocalBackupsSource } from './local-backups.port.js';
import { RepositoriesController } from './manage/repositories.http.controller.js';
import { RepositoriesService } from './manage/repositories.service.js';
import { RepositoryRegistryService } from './registry/repository-registry.service.js';
import { RepositoryRegistry } from './repository-registry.port.js';
import { RepositoryUsages } from './repository-usage.port.js';
import { StaleUploadSweeper } from './sweep/stale-upload-sweeper.service.js';

/**
 * Backup repositories: the registry (RepositoryRegistry, for backups, restores and downloads),
 * the admin API, and the daily sweep of stale uploads. Global, so any module can inject the
 * registry; the backup module registers what names repositories (RepositoryUsages) and its own
 * backups (LocalBackupsSource) here, so this module imports nothing of it.
 */
@Global()
@Module({
  controllers: [RepositoriesController],
  providers: [
    RepositoryRegistryService,
    { provide: RepositoryRegistry, useExisting: RepositoryRegistryService },
    RepositoryUsages,
    LocalBackupsSource,
    RepositoriesService,
    RepositoryBackupsService,
    StaleUploadSweeper,
  ],
  exports: [RepositoryRegistry, RepositoryUsages, LocalBackupsSource, StaleUploadSweeper],
})
export class RepositoriesModule {}
