import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import type { ApiClient, ErrorHints } from './api-client.js';
import { type Backup, isEnded, type JobStatus, type Restore, type Rollback } from './api-types.js';
import { type Output, type ProgressState, shortId } from './output.js';

export const POLL_MS = 500;

type Job = Backup | Restore | Rollback;

export interface FollowOptions<T extends Job> {
  onUpdate(job: T): void;
  /** Told once when the server has no event stream for jobs and the CLI polls instead. */
  onFallback?(reason: string): void;
  hints?: ErrorHints;
  pollMs?: number;
}

/**
 * Follows a job until it is Completed or Failed: over its server-sent events
 * (`GET {job}/events`, each message `event: job` with the job as JSON), or, where the server
 * answers 404 for that route (before it has one), by reading the job every 500 ms. A stream that
 * ends early (a proxy cut it) is continued by polling.
 */
export async function followJob<T extends Job>(client: ApiClient, jobPath: string, options: FollowOptions<T>): Promise<T> {
  const seen = (job: T) => options.onUpdate(job);
  const streamed = await followEvents(client, jobPath, seen, options);
  if (streamed && isEnded(streamed)) return streamed;
  for (;;) {
    const job = await client.get<T>(jobPath, options.hints);
    seen(job);
    if (isEnded(job)) return job;
    await sleep(options.pollMs ?? POLL_MS);
  }
}

async function followEvents<T extends Job>(client: ApiClient, jobPath: string, seen: (job: T) => void, options: FollowOptions<T>): Promise<T | undefined> {
  const controller = new AbortController();
  const response = await client.request('GET', `${jobPath}/events`, {
    headers: { accept: 'text/event-stream' },
    accept: [404, 405, 406, 501],
    hints: options.hints,
    signal: controller.signal,
  });
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || !type.includes('text/event-stream') || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    options.onFallback?.(response.ok ? `the server answered ${type || 'no content type'} instead of an event stream` : `the server has no event stream for jobs (${response.status})`);
    return undefined;
  }
  let latest: T | undefined;
  let problem: string | undefined;
  const parser = createParser({
    onEvent: (message) => {
      if (message.event !== undefined && message.event !== 'job') return;
      try {
        const job = JSON.parse(message.data) as T;
        if (typeof job !== 'object' || job === null || typeof job.status !== 'string') return;
        latest = job;
        seen(job);
      } catch {
        problem = 'an event that is not JSON';
      }
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (latest && isEnded(latest)) break;
    }
  } catch {
    // The connection broke: polling takes over from here.
  } finally {
    controller.abort();
    reader.releaseLock();
  }
  if (problem && !latest) options.onFallback?.(`the event stream sent ${problem}`);
  return latest;
}

/** A job's progress for a bar or a line; fields an older server lacks are made up from what it has. */
export function progressOf(job: Job): ProgressState {
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

function statusPhase(status: JobStatus): string {
  return status === 'Scheduled' ? 'queued' : status === 'Running' ? 'running' : status === 'Completed' ? 'done' : 'failed';
}

/** Follows a job with a bar (or plain lines) labelled `backup 3f2a9c1b…` / `restore …` / `rollback …`; returns it ended. */
export async function followWithProgress<T extends Job>(client: ApiClient, output: Output, kind: 'backup' | 'restore' | 'rollback', job: T, jobPath: string, hints?: ErrorHints): Promise<T> {
  const progress = output.progress(`${kind} ${shortId(job.id)}`);
  try {
    progress.update(progressOf(job));
    if (isEnded(job)) return job;
    return await followJob<T>(client, jobPath, {
      hints,
      onUpdate: (next) => progress.update(progressOf(next)),
      onFallback: (reason) => progress.note(`${reason}; reading the job every ${POLL_MS} ms instead`),
    });
  } finally {
    progress.stop();
  }
}
