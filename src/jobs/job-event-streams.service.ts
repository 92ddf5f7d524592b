import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { hasEnded, type JobStatus } from './job-record.js';

/** How often a stream looks at its job; jobs save progress at most every 500 ms. */
const POLL_MS = 250;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

interface StreamedJob {
  status: JobStatus;
}

/**
 * Server-sent events for one job: `event: job` with the job as served (the same JSON as its GET)
 * at once and at each change, then `event: end` with `{ status }` when the job has ended (Completed,
 * Failed, or Interrupted: a restore the server stopped under waits for a resume, which a client
 * follows with a new stream), and the response ends. It follows the stored job, so it works
 * whichever process runs the job.
 */
@Injectable()
export class JobEventStreams implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobEventStreams.name);
  private readonly open = new Set<() => void>();

  /**
   * `load` is called once before the response starts, so an unknown job or a job of another app
   * is answered with its 404 as usual, then on every poll.
   */
  async stream<J extends StreamedJob>(req: Request, res: Response, load: () => Promise<J>): Promise<void> {
    let job = await load();
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // Proxies that buffer responses would hold the events back until the job ends.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();

    let last = '';
    let lastWrite = Date.now();
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      this.open.delete(finish);
      res.end();
    };
    this.open.add(finish);
    req.on('close', finish);

    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      lastWrite = Date.now();
    };
    const tick = async () => {
      if (ended) return;
      try {
        const text = JSON.stringify(job);
        if (text !== last) {
          last = text;
          send('job', job);
        } else if (Date.now() - lastWrite > KEEP_ALIVE_MS) {
          res.write(': still running\n\n');
          lastWrite = Date.now();
        }
        if (hasEnded(job)) {
          send('end', { status: job.status });
          finish();
          return;
        }
        timer = setTimeout(() => {
          void load()
            .then((next) => {
              job = next;
              return tick();
            })
            .catch((error: unknown) => {
              // The job was deleted, or the store failed: say so and end; the client can GET it.
              if (!ended) send('error', { message: error instanceof Error ? error.message : String(error) });
              finish();
            });
        }, POLL_MS);
      } catch (error) {
        this.logger.warn(`A job event stream failed: ${String(error)}`);
        finish();
      }
    };
    await tick();
  }

  /** Ends every open stream before the HTTP server closes, so a shutdown never waits on them. */
  beforeApplicationShutdown(): void {
    for (const finish of [...this.open]) finish();
  }
}
