import type { Server } from 'node:http';
import type { INestApplication, LoggerService } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { JobProcessor } from './jobs/job-processor.service.js';

/** After the deadline, abandoned jobs get this long to clean up before the stores close. */
const CLEANUP_GRACE_MS = 5000;

/** Counts requests in flight, so a shutdown knows when the last one has been answered. */
export class RequestTracker {
  private open = 0;
  private waiters: (() => void)[] = [];

  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    this.open += 1;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.open -= 1;
      if (this.open === 0) for (const wake of this.waiters.splice(0)) wake();
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };

  get inFlight(): number {
    return this.open;
  }

  idle(): Promise<void> {
    return this.open === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * A bounded, logged stop: no new connections; running requests and jobs get until `timeoutMs`
 * to finish; then stalled connections (a half-sent upload, say) are closed and running jobs are
 * failed with a clear message and cleaned up as after a crash; then the application closes.
 */
export async function gracefulShutdown(app: INestApplication, tracker: RequestTracker, options: { signal: string; timeoutMs: number; logger: LoggerService }): Promise<void> {
  const { logger, timeoutMs, signal } = options;
  const server = app.getHttpServer() as Server;
  const jobs = app.get(JobProcessor);
  logger.log(`${signal}: not accepting connections; waiting up to ${timeoutMs} ms for ${tracker.inFlight} request(s) and ${jobs.runningCount} job(s)`);
  server.close();
  server.closeIdleConnections();
  // Restores need not be waited for: they stop at their next step, Interrupted, and resume at the next start.
  const interrupted = jobs.interrupt(`The server was stopped (${signal})`);
  if (interrupted > 0) logger.warn(`Interrupting ${interrupted} restore(s); they resume from their journal`, 'Shutdown');
  const finished = await Promise.race([Promise.all([tracker.idle(), jobs.settled()]).then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!finished) {
    if (tracker.inFlight > 0) logger.warn(`Closing ${tracker.inFlight} request(s) still open after ${timeoutMs} ms`);
    server.closeAllConnections();
    for (const [kind, count] of jobs.runningByKind()) logger.warn(`Stopping ${count} running ${kind}s; they are marked Failed and cleaned up`);
    jobs.abandon(`The server was stopped (${signal}) before this job finished; nothing of it was kept. Start it again.`);
    await Promise.race([jobs.settled(), sleep(CLEANUP_GRACE_MS)]);
    if (jobs.runningCount > 0) logger.warn('Some jobs did not finish cleaning up; the next start completes it');
  } else {
    logger.log('All requests answered and jobs finished');
  }
  await app.close();
  logger.log('Stopped');
}
