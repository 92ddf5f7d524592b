import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { type Backup, CreateBackupBody, type DeletedBackup } from '../../contract/backups.schemas.js';
import type { KeptCopy } from '../shared/backup-copies.js';
import { AdminOnly, AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { type BackupJob, copiesOf, isEncrypted, isIncremental, isPartial, targetsOf, triggerOf } from '../shared/backup-job.js';
import { normalizeSelection } from '../shared/backup-selection.js';
import { sendArchive } from '../shared/archive-download.js';
import { BackupArchives } from '../shared/archive-locations.js';
import { BackupsService } from './backups.service.js';
import { forbidden } from '../../platform/domain-errors.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { progressOf } from '../../jobs/job-progress.js';
import { JobRoutes } from '../../jobs/job-routes.js';
import { AdminJobsController, AppJobsController } from '../../jobs/jobs.http.controller.js';

/** The public shape of a backup: internal fields (who created it) stay out. */
export const toView = ({ createdBy: _createdBy, cleanup: _cleanup, objectLock: _objectLock, ...job }: BackupJob): Backup => ({
  ...job,
  trigger: triggerOf(job),
  include: job.include ?? null,
  partial: isPartial(job),
  repositories: targetsOf(job),
  copies: copiesOf(job),
  encrypted: isEncrypted(job),
  encryption: job.encryption ?? null,
  credentials: job.credentials === true,
  kind: isIncremental(job) ? 'incremental' : 'full',
  incremental: isIncremental(job),
  base: job.base?.id ?? null,
  baseArchive: job.base ?? null,
  chain: job.chain ?? null,
  ...progressOf(job),
});

/** 204, or 200 naming the copies kept in append-only repositories (the record is gone, they stay). */
function deletedAnswer(res: Response, id: string, kept: KeptCopy[]): void {
  if (kept.length === 0) {
    res.status(204).end();
    return;
  }
  const body: DeletedBackup = { id, kept };
  res.status(200).json(body);
}

@Controller('api/apps/:app/backups')
export class AppBackupsController extends AppJobsController<BackupJob, Backup>('', ...MAINTAINERS) {
  constructor(
    private readonly backups: BackupsService,
    private readonly archives: BackupArchives,
    streams: JobEventStreams,
  ) {
    super(new JobRoutes(backups.jobs, toView, streams));
  }

  @Post()
  @HttpCode(202)
  @AppAccess(...MAINTAINERS)
  async create(@CurrentApp() app: AppAccessInfo, @Body({ schema: CreateBackupBody }) body: z.infer<typeof CreateBackupBody>, @CurrentUser() caller: Principal) {
    if (body.include?.credentials && !caller.admin) throw forbidden('include.credentials: only admins back up credentials (the users’ API key hashes)');
    return toView(
      await this.backups.schedule(app, {
        label: body.label,
        actor: caller.userId,
        include: normalizeSelection(body.include),
        repositories: body.repositories,
        encryption: body.encryption ?? null,
        credentials: body.include?.credentials === true,
        incremental: body.incremental === undefined ? null : body.incremental === true ? {} : { base: body.incremental.base },
      }),
    );
  }

  @Get(':id/archive')
  @AppAccess(...MAINTAINERS)
  async archive(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendArchive(this.archives, await this.backups.completed(id, app.id), req, res);
  }

  @Delete(':id')
  @AppAccess(...MAINTAINERS)
  async remove(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Res() res: Response): Promise<void> {
    deletedAnswer(res, id, await this.backups.delete(id, app.id));
  }
}

/** Admins reach every backup by id alone, also after its app was deleted. */
@Controller('api/backups')
export class AdminBackupsController extends AdminJobsController<BackupJob, Backup>() {
  constructor(
    private readonly backups: BackupsService,
    private readonly archives: BackupArchives,
    streams: JobEventStreams,
  ) {
    super(new JobRoutes(backups.jobs, toView, streams));
  }

  @Get(':id/archive')
  @AdminOnly()
  async archive(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendArchive(this.archives, await this.backups.completed(id), req, res);
  }

  @Delete(':id')
  @AdminOnly()
  async remove(@Param('id') id: string, @Res() res: Response): Promise<void> {
    deletedAnswer(res, id, await this.backups.delete(id));
  }
}
