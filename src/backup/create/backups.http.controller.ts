import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { type Backup, CreateBackupBody } from '../../contract/backups.schemas.js';
import { AdminOnly, AppAccess, MAINTAINERS } from '../../platform/auth/access.decorator.js';
import type { AppAccessInfo } from '../../platform/auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../platform/auth/current.decorators.js';
import type { Principal } from '../../platform/auth/principal.js';
import { type Page, PageQuery } from '../../contract/paging.schemas.js';
import { type BackupJob, isPartial, triggerOf } from '../shared/backup-job.js';
import { normalizeSelection } from '../shared/backup-selection.js';
import { sendArchive } from '../shared/archive-download.js';
import { BackupsService } from './backups.service.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { progressOf } from '../../jobs/job-progress.js';

/** The public shape of a backup: internal fields (who created it) stay out. */
export const toView = ({ createdBy: _createdBy, ...job }: BackupJob): Backup => ({ ...job, trigger: triggerOf(job), include: job.include ?? null, partial: isPartial(job), ...progressOf(job) });

@Controller('api/apps/:app/backups')
export class AppBackupsController {
  constructor(
    private readonly backups: BackupsService,
    private readonly streams: JobEventStreams,
  ) {}

  @Post()
  @HttpCode(202)
  @AppAccess(...MAINTAINERS)
  async create(@CurrentApp() app: AppAccessInfo, @Body({ schema: CreateBackupBody }) body: z.infer<typeof CreateBackupBody>, @CurrentUser() caller: Principal) {
    return toView(await this.backups.schedule(app, { label: body.label, actor: caller.userId, include: normalizeSelection(body.include) }));
  }

  @Get()
  @AppAccess(...MAINTAINERS)
  async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: PageQuery }) page: Page) {
    const found = await this.backups.list(page, app.id);
    return { total: found.total, items: found.items.map(toView) };
  }

  @Get(':id')
  @AppAccess(...MAINTAINERS)
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string) {
    return toView(await this.backups.get(id, app.id));
  }

  /** The job as server-sent events until it ends (see JobEventStreams). */
  @Get(':id/events')
  @AppAccess(...MAINTAINERS)
  async events(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.streams.stream(req, res, async () => toView(await this.backups.get(id, app.id)));
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
  constructor(
    private readonly backups: BackupsService,
    private readonly streams: JobEventStreams,
  ) {}

  @Get()
  @AdminOnly()
  async list(@Query({ schema: PageQuery }) page: Page) {
    const found = await this.backups.list(page);
    return { total: found.total, items: found.items.map(toView) };
  }

  @Get(':id')
  @AdminOnly()
  async get(@Param('id') id: string) {
    return toView(await this.backups.get(id));
  }

  @Get(':id/events')
  @AdminOnly()
  async events(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.streams.stream(req, res, async () => toView(await this.backups.get(id)));
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
