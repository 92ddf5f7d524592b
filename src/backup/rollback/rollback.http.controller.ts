import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { RollbackBody } from '../../contract/rollbacks.schemas.js';
import { AppAccess } from '../../platform/auth/access.decorator.js';
import type { AppAccessInfo } from '../../platform/auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../platform/auth/current.decorators.js';
import type { Principal } from '../../platform/auth/principal.js';
import { type Page, PageQuery } from '../../contract/paging.schemas.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { toRollbackView } from './rollback-job.js';
import { RollbacksService } from './rollbacks.service.js';

/** Rollbacks in place (Owner, or an administrator): see RollbacksService. */
@Controller('api/apps/:app')
export class RollbackController {
  constructor(
    private readonly rollbacks: RollbacksService,
    private readonly streams: JobEventStreams,
  ) {}

  @Post('rollback')
  @HttpCode(202)
  @AppAccess('Owner')
  async start(@CurrentApp() app: AppAccessInfo, @Body({ schema: RollbackBody }) body: z.infer<typeof RollbackBody>, @CurrentUser() caller: Principal, @Res({ passthrough: true }) res: Response) {
    const { dryRun, ...request } = body;
    if (dryRun) {
      res.status(200);
      return this.rollbacks.dryRun(app, request);
    }
    return toRollbackView(await this.rollbacks.start(app, request, caller.userId));
  }

  @Get('rollbacks')
  @AppAccess('Owner')
  async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: PageQuery }) page: Page) {
    const found = await this.rollbacks.list(app.id, page);
    return { total: found.total, items: found.items.map(toRollbackView) };
  }

  @Get('rollbacks/:id')
  @AppAccess('Owner')
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string) {
    return toRollbackView(await this.rollbacks.get(app.id, id));
  }

  @Get('rollbacks/:id/events')
  @AppAccess('Owner')
  async events(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.streams.stream(req, res, async () => toRollbackView(await this.rollbacks.get(app.id, id)));
  }
}
