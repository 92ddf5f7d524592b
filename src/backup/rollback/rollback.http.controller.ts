import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { z } from 'zod';
import { type Rollback, RollbackBody } from '../../contract/rollbacks.schemas.js';
import { AppAccess } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { JobRoutes } from '../../jobs/job-routes.js';
import { AppJobsController } from '../../jobs/jobs.http.controller.js';
import { type RollbackJob, toRollbackView } from './rollback-job.js';
import { RollbackPreflightService } from './rollback-preflight.service.js';
import { RollbacksService } from './rollbacks.service.js';

/** Rollbacks in place (Owner, or an administrator): see RollbacksService. */
@Controller('api/apps/:app')
export class RollbackController extends AppJobsController<RollbackJob, Rollback>('rollbacks', 'Owner') {
  constructor(
    private readonly rollbacks: RollbacksService,
    private readonly preflight: RollbackPreflightService,
    streams: JobEventStreams,
  ) {
    super(new JobRoutes(rollbacks.jobs, toRollbackView, streams));
  }

  @Post('rollback')
  @HttpCode(202)
  @AppAccess('Owner')
  async start(@CurrentApp() app: AppAccessInfo, @Body({ schema: RollbackBody }) body: z.infer<typeof RollbackBody>, @CurrentUser() caller: Principal, @Res({ passthrough: true }) res: Response) {
    const { dryRun, ...request } = body;
    if (dryRun) {
      res.status(200);
      return this.preflight.check(app, request);
    }
    return toRollbackView(await this.rollbacks.start(app, request, caller.userId));
  }
}
