import type { JobProgress } from '../contract/common.schemas.js';
import { followJob as follow, isEnded, type Job, type JobRef } from '../contract/client/job-events.js';
import type { CliApi, ErrorHints } from './api-client.js';
import { type Output, type ProgressState, shortId } from './output.js';

export const POLL_MS = 500;

/** A job as an older server may send it, without the progress fields. */
type Served<T> = T extends unknown ? Omit<T, keyof JobProgress> & Partial<JobProgress> : never;

/**
 * Follows a job until it is Completed or Failed, over its server-sent events; where the server
 * answers 404 for that route (before it had one), by reading the job every 500 ms. A stream that
 * ends early (a proxy cut it) is continued by reading the job.
 */
export async function followJob<T extends Job>(client: CliApi, ref: JobRef, options: { onUpdate(job: T): void; onFallback?(reason: string): void; hints?: ErrorHints; pollMs?: number }): Promise<T> {
  const ended = await client.translating(
    () => follow<T>(client.api, ref, { onJob: options.onUpdate, pollMs: options.pollMs ?? POLL_MS, noStreamStatuses: [404, 405, 406, 501], onFallback: options.onFallback }),
    options.hints,
  );
  // Nothing aborts the follow, so it ends with the job.
  if (!ended) throw new Error(`Following ${ref.route} ended without the job`);
  return ended;
}

/** A job's progress for a bar or a line; fields an older server lacks are made up from what it has. */
export function progressOf(job: Served<Job>): ProgressState {
  const phase = job.phase ?? statusPhase(job.status);
  if (job.progress) return { phase, done: job.progress.done, total: job.progress.total, unit: job.progress.unit, percent: job.percent ?? null, etaSeconds: job.etaSeconds ?? null };
  if ('restoredEvents' in job) {
    const total = job.eventCount || null;
    return { phase, done: job.restoredEvents, total, unit: 'events', percent: job.percent ?? (job.status === 'Completed' ? 100 : null), etaSeconds: job.etaSeconds ?? null };
  }
  if ('appendedEvents' in job) {
    // A rollback appends all its events at once: until then there is nothing to count.
    return { phase, done: job.status === 'Completed' ? job.appendedEvents : null, total: job.status === 'Completed' ? job.appendedEvents : null, unit: 'events', percent: job.percent ?? (job.status === 'Completed' ? 100 : null), etaSeconds: job.etaSeconds ?? null };
  }
  return { phase, done: job.status === 'Completed' ? job.eventCount : null, total: job.status === 'Completed' ? job.eventCount : null, unit: 'events', percent: job.percent ?? (job.status === 'Completed' ? 100 : null), etaSeconds: job.etaSeconds ?? null };
}

function statusPhase(status: Job['status']): string {
  return status === 'Scheduled' ? 'queued' : status === 'Running' ? 'running' : status === 'Completed' ? 'done' : status === 'Interrupted' ? 'interrupted' : 'failed';
}

/** Follows a job with a bar (or plain lines) labelled `backup 3f2a9c1b…` / `restore …` / `rollback …`; returns it ended. */
export async function followWithProgress<T extends Job>(client: CliApi, output: Output, kind: 'backup' | 'restore' | 'rollback', job: T, ref: JobRef, hints?: ErrorHints): Promise<T> {
  const progress = output.progress(`${kind} ${shortId(job.id)}`);
  try {
    progress.update(progressOf(job));
    if (isEnded(job)) return job;
    return await followJob<T>(client, ref, {
      hints,
      onUpdate: (next) => progress.update(progressOf(next)),
      onFallback: (reason) => progress.note(`${reason}; reading the job every ${POLL_MS} ms instead`),
    });
  } finally {
    progress.stop();
  }
}
