import { Module } from '@nestjs/common';
import { Clock } from '../platform/clock.js';
import { BackupRunner } from './create/backup.runner.js';
import { AdminBackupsController, AppBackupsController } from './create/backups.http.controller.js';
import { BackupsService } from './create/backups.service.js';
import { CopyWriter } from './create/copy-writer.js';
import { AdminBackupVerifyController, AppBackupVerifyController } from './verify/backup-verify.http.controller.js';
import { BackupVerifier } from './verify/backup-verifier.service.js';
import { BackupCopies } from './shared/backup-copies.js';
import { AdminBackupLinksController, AppBackupLinksController, BackupLinkDownloadController } from './links/backup-links.http.controller.js';
import { BackupLinksService } from './links/backup-links.service.js';
import { RestoreCleanup } from './restore/restore-cleanup.js';
import { RestoreResumption } from './restore/restore-resumption.js';
import { RestoreController } from './restore/restore.http.controller.js';
import { RestorePreflightService } from './restore/restore-preflight.service.js';
import { RestoreRunner } from './restore/restore.runner.js';
import { RestoresService } from './restore/restores.service.js';
import { RollbackController } from './rollback/rollback.http.controller.js';
import { RollbackPlanner } from './rollback/rollback-planner.js';
import { RollbackPreflightService } from './rollback/rollback-preflight.service.js';
import { RollbackRunner } from './rollback/rollback.runner.js';
import { RollbackWriter } from './rollback/rollback-writer.js';
import { RollbacksService } from './rollback/rollbacks.service.js';
import { BackupPoliciesService } from './schedule/backup-policies.service.js';
import { BackupPolicyController } from './schedule/backup-policy.http.controller.js';
import { BackupScheduler } from './schedule/backup-scheduler.service.js';
import { InstallationService } from './shared/installation.service.js';
import { BackupRepositoryHooks } from './backup-repository-hooks.service.js';
import { BackupArchives } from './shared/archive-locations.js';
import { BackupDiffController } from './diff/backup-diff.http.controller.js';
import { BackupDiffService } from './diff/backup-diff.service.js';
import { KeptDiffs } from './diff/kept-diffs.js';
import { AppStateDiffs } from './shared/app-state-diffs.js';
import { BackupRecipients } from './encryption/backup-recipients.service.js';
import { AppRecipientsController, InstallationRecipientController, InstallationRecipientsController } from './encryption/recipients.http.controller.js';

/** The backup use cases, one folder each; their jobs run on the JobProcessor (src/jobs), where each runner registers. */
@Module({
  controllers: [AppBackupsController, AdminBackupsController, AppBackupVerifyController, AdminBackupVerifyController, AppBackupLinksController, AdminBackupLinksController, BackupLinkDownloadController, RestoreController, BackupPolicyController, RollbackController, InstallationRecipientsController, AppRecipientsController, InstallationRecipientController, BackupDiffController],
  providers: [
    InstallationService,
    Clock,
    BackupRunner,
    CopyWriter,
    BackupCopies,
    BackupVerifier,
    BackupsService,
    BackupArchives,
    BackupLinksService,
    RestoreRunner,
    RestoreCleanup,
    RestoreResumption,
    RestoresService,
    RestorePreflightService,
    BackupPoliciesService,
    BackupScheduler,
    RollbackPlanner,
    RollbackWriter,
    RollbackRunner,
    RollbacksService,
    RollbackPreflightService,
    BackupRepositoryHooks,
    BackupRecipients,
    BackupDiffService,
    KeptDiffs,
    AppStateDiffs,
  ],
  exports: [BackupsService, RestoresService, InstallationService, BackupScheduler, RollbacksService],
})
export class BackupsModule {}
