import { Get, Param, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AdminOnly, AppAccess } from '../auth/access.decorator.js';
import type { AppAccessInfo } from '../auth/auth.ports.js';
import { CurrentApp } from '../auth/current.decorators.js';
import type { AppRole } from '../auth/principal.js';
import { type Page, PageQuery } from '../contract/paging.schemas.js';
import type { JobRecord, JobStatus } from './job-record.js';
import type { JobRoutes } from './job-routes.js';

/**
 * The controller family of jobs: the list, get and event-stream routes of every kind, declared
 * once. A use-case controller extends one of these, hands it its kind's JobRoutes (`super(…)`) and
 * adds its own routes (start, download, delete); its @Controller path says where they are.
 */

/** `GET {path}`, `GET {path}/:id` and `GET {path}/:id/events` for administrators: every job of the kind. */
export function AdminJobsController<J extends JobRecord, V extends { status: JobStatus }>(path = '') {
  abstract class AdminJobs {
    constructor(protected readonly jobs: JobRoutes<J, V>) {}

    @Get(path)
    @AdminOnly()
    async list(@Query({ schema: PageQuery }) page: Page) {
      return this.jobs.list(page);
    }

    @Get(`${path}/:id`)
    @AdminOnly()
    async get(@Param('id') id: string) {
      return this.jobs.get(id);
    }

    /** The job as server-sent events until it ends (see JobEventStreams). */
    @Get(`${path}/:id/events`)
    @AdminOnly()
    async events(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
      await this.jobs.events(id, req, res);
    }
  }
  return AdminJobs;
}

/** The same routes under an app (`:app` in the controller's path) for callers with one of `roles` on it: that app's jobs. */
export function AppJobsController<J extends JobRecord & { appId: string }, V extends { status: JobStatus }>(path: string, ...roles: AppRole[]) {
  abstract class AppJobs {
    constructor(protected readonly jobs: JobRoutes<J, V>) {}

    @Get(path)
    @AppAccess(...roles)
    async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: PageQuery }) page: Page) {
      return this.jobs.list(page, { appId: app.id });
    }

    @Get(`${path}/:id`)
    @AppAccess(...roles)
    async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string) {
      return this.jobs.get(id, { appId: app.id });
    }

    /** The job as server-sent events until it ends (see JobEventStreams). */
    @Get(`${path}/:id/events`)
    @AppAccess(...roles)
    async events(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
      await this.jobs.events(id, req, res, { appId: app.id });
    }
  }
  return AppJobs;
}
