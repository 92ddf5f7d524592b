import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AdminOnly, AppAccess, MAINTAINERS } from '../../platform/auth/access.decorator.js';
import type { AppAccessInfo } from '../../platform/auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../platform/auth/current.decorators.js';
import type { Principal } from '../../platform/auth/principal.js';
import { type Page, PageQuery } from '../../platform/http/paging.js';
import { singleLine } from '../../platform/text/plain-text.checks.js';
import { type BackupJob, isPartial, triggerOf } from '../shared/backup-job.js';
import { BackupIncludeBody, normalizeSelection } from '../shared/backup-selection.js';
import { sendArchive } from '../shared/archive-download.js';
import { BackupsService } from './backups.service.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { progressOf } from '../../jobs/job-progress.js';
import { JobRoutes } from '../../jobs/job-routes.js';

const CreateBackupBody = z.strictObject({ label: z.string().trim().max(200).check(singleLine()).optional(), include: BackupIncludeBody.optional() });

/** The public shape of a backup: internal fields (who created it) stay out. */
export const toView = ({ createdBy: _createdBy, ...job }: BackupJob) => ({ ...job, trigger: triggerOf(job), include: job.include ?? null, partial: isPartial(job), ...progressOf(job) });

const backupRoutes = (backups: BackupsService, streams: JobEventStreams) => new JobRoutes(backups.jobs, toView, streams);

@Controller('api/apps/:app/backups')
export class AppBackupsController {
  private readonly jobs: ReturnType<typeof backupRoutes>;

  constructor(
    private readonly backups: BackupsService,
    streams: JobEventStreams,
  ) {
    this.jobs = backupRoutes(backups, streams);
  }

  @Post()
  @HttpCode(202)
  @AppAccess(...MAINTAINERS)
  async create(@CurrentApp() app: AppAccessInfo, @Body({ schema: CreateBackupBody }) body: z.infer<typeof CreateBackupBody>, @CurrentUser() caller: Principal) {
    return toView(await this.backups.schedule(app, { label: body.label, actor: caller.userId, include: normalizeSelection(body.include) }));
  }

  @Get()
  @AppAccess(...MAINTAINERS)
  async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: PageQuery }) page: Page) {
    return this.jobs.list(page, { appId: app.id });
  }

  @Get(':id')
  @AppAccess(...MAINTAINERS)
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string) {
    return this.jobs.get(id, { appId: app.id });
  }

  /** The job as server-sent events until it ends (see JobEventStreams). */
  @Get(':id/events')
  @AppAccess(...MAINTAINERS)
  async events(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.jobs.events(id, req, res, { appId: app.id });
  }

  @Get(':id/archive')
  @AppAccess(...MAINTAINERS)
  async archive(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendArchive(this.backups, await this.backups.completed(id, app.id), req, res);
  }

  @Delete(':id')
  @HttpCode(204)
  @AppAccess(...MAINTAINERS)
  async remove(@CurrentApp() app: AppAccessInfo, @Param('id') id: string): Promise<void> {
    await this.backups.delete(id, app.id);
  }
}

/** Admins reach every backup by id alone, also after its app was deleted. */
@Controller('api/backups')
export class AdminBackupsController {
  private readonly jobs: ReturnType<typeof backupRoutes>;

  constructor(
    private readonly backups: BackupsService,
    streams: JobEventStreams,
  ) {
    this.jobs = backupRoutes(backups, streams);
  }

  @Get()
  @AdminOnly()
  async list(@Query({ schema: PageQuery }) page: Page) {
    return this.jobs.list(page);
  }

  @Get(':id')
  @AdminOnly()
  async get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Get(':id/events')
  @AdminOnly()
  async events(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.jobs.events(id, req, res);
  }

  @Get(':id/archive')
  @AdminOnly()
  async archive(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendArchive(this.backups, await this.backups.completed(id), req, res);
  }

  @Delete(':id')
  @HttpCode(204)
  @AdminOnly()
  async remove(@Param('id') id: string): Promise<void> {
    await this.backups.delete(id);
  }
}
