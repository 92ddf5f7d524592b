import { RollbackController } from './rollback/rollback.http.controller.js';
import { RollbackPlanner } from './rollback/rollback-planner.js';
import { RollbackWriter } from './rollback/rollback-writer.js';
import { RollbacksService } from './rollback/rollbacks.service.js';
import { Module } from '@nestjs/common';
import { BackupFaults } from './create/backup-faults.js';
import { BackupRunner } from './create/backup.runner.js';
import { AdminBackupsController, AppBackupsController } from './create/backups.http.controller.js';
import { BackupsService } from './create/backups.service.js';
import { InstallationService } from './shared/installation.service.js';
import { JobEventStreams } from '../jobs/job-event-streams.service.js';
import { AdminBackupLinksController, AppBackupLinksController, BackupLinkDownloadController } from './links/backup-links.http.controller.js';
import { BackupLinksService } from './links/backup-links.service.js';
import { RestoreController } from './restore/restore.http.controller.js';
import { RestoreFaults } from './restore/restore-faults.js';
import { RestoreRunner } from './restore/restore.runner.js';
import { RestoresService } from './restore/restores.service.js';
import { RestorePreflightService } from './restore/restore-preflight.service.js';
import { Clock } from '../platform/clock.js';
import { BackupPoliciesService } from './schedule/backup-policies.service.js';
import { BackupPolicyController } from './schedule/backup-policy.http.controller.js';
import { BackupScheduler } from './schedule/backup-scheduler.service.js';

@Module({
  controllers: [AppBackupsController, AdminBackupsController, AppBackupLinksController, AdminBackupLinksController, BackupLinkDownloadController, RestoreController, BackupPolicyController, RollbackController],
  providers: [JobEventStreams, BackupLinksService, BackupsService, BackupRunner, BackupFaults, InstallationService, RestoresService, RestorePreflightService, RestoreRunner, RestoreFaults, Clock, BackupPoliciesService, BackupScheduler, RollbackPlanner, RollbackWriter, RollbacksService],
  exports: [BackupsService, RestoresService, InstallationService, BackupScheduler, RollbacksService],
})
export class BackupsModule {}
