import type { Request, Response } from 'express';
import type { Filter, Scalar } from '../infrastructure/read-store/read-store.port.js';
import type { Page } from '../contract/paging.schemas.js';
import type { JobEventStreams } from './job-event-streams.service.js';
import type { JobRecord, JobStatus } from './job-record.js';
import type { JobStore } from './job-store.js';

/**
 * What the list, get and event-stream routes of one kind of job answer (see
 * jobs.http.controller.ts): a job is served the same way by every kind: its view, newest first,
 * 404 for another app's job, the same JSON in its GET and in its stream.
 */
export class JobRoutes<J extends JobRecord, V extends { status: JobStatus }> {
  constructor(
    private readonly jobs: JobStore<J>,
    private readonly view: (job: J) => V,
    private readonly streams: JobEventStreams,
  ) {}

  /** Newest first; `filter` narrows (an app's jobs). */
  async list(page: Page, filter: Filter = {}): Promise<{ total: number; items: V[] }> {
    const found = await this.jobs.list(page, filter);
    return { total: found.total, items: found.items.map(this.view) };
  }

  /** `scope` limits the job to one app's (see JobStore.require). */
  async get(id: string, scope?: Record<string, Scalar>): Promise<V> {
    return this.view(await this.jobs.require(id, scope));
  }

  /** The job as server-sent events until it ends (see JobEventStreams). */
  events(id: string, req: Request, res: Response, scope?: Record<string, Scalar>): Promise<void> {
    return this.streams.stream(req, res, () => this.get(id, scope));
  }
}
