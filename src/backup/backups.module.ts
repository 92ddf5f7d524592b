import { Module } from '@nestjs/common';
import { BackupFaults } from './backup-faults.js';
import { BackupRunner } from './backup.runner.js';
import { AdminBackupsController, AppBackupsController } from './backups.http.controller.js';
import { BackupsService } from './backups.service.js';
import { InstallationService } from './installation.service.js';
import { JobEventStreams } from './job-event-streams.service.js';
import { AdminBackupLinksController, AppBackupLinksController, BackupLinkDownloadController } from './links/backup-links.http.controller.js';
import { BackupLinksService } from './links/backup-links.service.js';
import { RestoreController } from './restore/restore.http.controller.js';
import { RestoreFaults } from './restore/restore-faults.js';
import { RestoreRunner } from './restore/restore.runner.js';
import { RestoresService } from './restore/restores.service.js';
import { RestorePreflightService } from './restore/restore-preflight.service.js';

@Module({
  controllers: [AppBackupsController, AdminBackupsController, AppBackupLinksController, AdminBackupLinksController, BackupLinkDownloadController, RestoreController],
  providers: [JobEventStreams, BackupLinksService, BackupsService, BackupRunner, BackupFaults, InstallationService, RestoresService, RestorePreflightService, RestoreRunner, RestoreFaults],
  exports: [BackupsService, RestoresService, InstallationService],
})
export class BackupsModule {}
