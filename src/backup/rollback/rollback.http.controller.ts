import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { z } from 'zod';
import { AppAccess } from '../../platform/auth/access.decorator.js';
import type { AppAccessInfo } from '../../platform/auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../platform/auth/current.decorators.js';
import type { Principal } from '../../platform/auth/principal.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { JobRoutes } from '../../jobs/job-routes.js';
import { AppJobsController } from '../../jobs/jobs.http.controller.js';
import { type RollbackJob, toRollbackView } from './rollback-job.js';
import { RollbackPreflightService } from './rollback-preflight.service.js';
import { RollbacksService } from './rollbacks.service.js';

export const RollbackBody = z
  .strictObject({
    backupId: z.string().min(1).max(100).optional().describe('A Completed, whole-app backup of this app'),
    untilEvent: z.number().int('must be a whole number').min(1).optional().describe('The number of the last event of the app’s history to keep the state of'),
    until: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time like 2026-05-01T12:00:00Z' }).optional().describe('The state as of this time'),
    dryRun: z.boolean().optional().describe('Report what would change, writing nothing'),
  })
  .superRefine((body, ctx) => {
    const given = (['backupId', 'untilEvent', 'until'] as const).filter((key) => body[key] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', path: given.length > 1 ? [given[1]!] : [], message: 'give exactly one of backupId, untilEvent or until' });
  });

type RollbackView = ReturnType<typeof toRollbackView>;

/** Rollbacks in place (Owner, or an administrator): see RollbacksService. */
@Controller('api/apps/:app')
export class RollbackController extends AppJobsController<RollbackJob, RollbackView>('rollbacks', 'Owner') {
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
