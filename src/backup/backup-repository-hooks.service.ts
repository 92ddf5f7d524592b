import { Injectable, type OnModuleInit } from '@nestjs/common';
import { LocalBackupsSource } from '../repositories/shared/local-backups.port.js';
import { RepositoryUsages } from '../repositories/shared/repository-usage.port.js';
import { BackupsService } from './create/backups.service.js';
import { BackupPoliciesService } from './schedule/backup-policies.service.js';
import { archiveKey, isEncrypted, isPartial } from './shared/backup-job.js';
import { InstallationService } from './shared/installation.service.js';

/**
 * What the repositories module learns from the backups at start, without importing them: the
 * installation's id and its Completed backups (the `local` repository's listing), and which
 * backup policies name a repository (a repository they name cannot be removed).
 */
@Injectable()
export class BackupRepositoryHooks implements OnModuleInit {
  constructor(
    private readonly installation: InstallationService,
    private readonly backups: BackupsService,
    private readonly policies: BackupPoliciesService,
    private readonly local: LocalBackupsSource,
    private readonly usages: RepositoryUsages,
  ) {}

  onModuleInit(): void {
    this.local.provide({
      installationId: () => this.installation.id(),
      completed: async (limit) => {
        const page = await this.backups.jobs.find({ status: 'Completed' }, { sort: [{ field: 'created', direction: 'desc' }], top: limit });
        return {
          total: page.total,
          items: page.items.map((job) => ({
            key: archiveKey(job),
            id: job.id,
            appId: job.appId,
            appName: job.appName,
            label: job.label,
            created: job.created,
            completed: job.completed ?? job.created,
            partial: isPartial(job),
            eventCount: job.eventCount,
            assetCount: job.assetCount,
            userCount: job.userCount,
            sizeBytes: job.sizeBytes,
            sha256: job.sha256 ?? '',
            encrypted: isEncrypted(job),
          })),
        };
      },
    });
    this.usages.register({
      // Policies name their target repositories in `repositories` (issue 20's copies).
      usesOf: async (repository, limit) => {
        const page = await this.policies.policies.find({ repositories: { $contains: repository } }, { top: limit });
        return page.items.map((policy) => `the backup policy of app ${policy.appName} names it`);
      },
    });
    this.usages.register({
      // A backup asked for a copy there: it may hold one (or is writing it), and deleting the backup deletes the copy.
      usesOf: async (repository, limit) => {
        const page = await this.backups.jobs.find({ repositories: { $contains: repository } }, { top: limit });
        return page.items.map((job) => `backup ${job.id} of app ${job.appName} has a copy there (delete the backup first)`);
      },
    });
  }
}
