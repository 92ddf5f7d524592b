import { createParser } from 'eventsource-parser';
import type { ApiClient } from './api-client.js';
import type { JobEventsRoute, JobOf } from './api-types.js';

/** Each job's route and the route of its server-sent events. */
export const JOB_EVENTS = {
  'appBackups.get': 'appBackups.events',
  'backups.get': 'backups.events',
  'restores.get': 'restores.events',
  'rollbacks.get': 'rollbacks.events',
} as const satisfies Record<string, JobEventsRoute>;
export type JobRoute = keyof typeof JOB_EVENTS;
/** Any job: a backup, a restore or a rollback, as its GET and its events answer it. */
export type Job = JobOf<(typeof JOB_EVENTS)[JobRoute]>;

/** Where a job is read: its route and the route's parameters (`{ app, id }` or `{ id }`). */
export interface JobRef {
  route: JobRoute;
  params: Record<string, string>;
}

/** Completed, Failed, or Interrupted (a restore the server stopped: it waits for a resume or a cancel). */
export const isEnded = (job: { status: string }): boolean => job.status === 'Completed' || job.status === 'Failed' || job.status === 'Interrupted';

export interface FollowOptions<T> {
  onJob(job: T): void;
  /** How often to read the job when there is no event stream to follow. */
  pollMs: number;
  signal?: AbortSignal;
  /** Statuses of the event stream that mean this server has none (an older one): read the job instead. */
  noStreamStatuses?: readonly number[];
  /** Whether an error of the event stream is left to reading the job (a 5xx, a broken connection); by default it is raised. */
  pollAfter?(error: unknown): boolean;
  /** Told once when the job is read instead of followed, and why. */
  onFallback?(reason: string): void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Follows a job until it is Completed or Failed: over its server-sent events (`event: job` with
 * the job as its GET answers it, then `event: end`), read with fetch since EventSource cannot send
 * the key; where there is no stream, or it ends early (a proxy cut it), by reading the job every
 * `pollMs`. Answers the ended job, or undefined once `signal` aborted. `T` is the kind of job
 * `ref` names.
 */
export async function followJob<T extends Job>(api: ApiClient, ref: JobRef, options: FollowOptions<T>): Promise<T | undefined> {
  const { route, params } = ref;
  let latest: T | undefined;
  const seen = (job: T) => {
    latest = job;
    options.onJob(job);
  };
  try {
    await streamJob(api, route, params, seen, options);
  } catch (error) {
    if (options.signal?.aborted) return undefined;
    if (!options.pollAfter?.(error)) throw error;
  }
  if (latest && isEnded(latest)) return latest;
  while (!options.signal?.aborted) {
    let job: T;
    try {
      job = (await api.json(route, { params, signal: options.signal })) as T;
    } catch (error) {
      if (options.signal?.aborted) return undefined;
      throw error;
    }
    seen(job);
    if (isEnded(job)) return job;
    await sleep(options.pollMs, options.signal);
  }
  return undefined;
}

async function streamJob<T extends Job>(api: ApiClient, route: JobRoute, params: Record<string, string>, seen: (job: T) => void, options: FollowOptions<T>): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    const response = await api.request(JOB_EVENTS[route], { params, headers: { accept: 'text/event-stream' }, signal: controller.signal }, { accept: options.noStreamStatuses });
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok || !type.includes('text/event-stream') || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      options.onFallback?.(response.ok ? `the server answered ${type || 'no content type'} instead of an event stream` : `the server has no event stream for jobs (${response.status})`);
      return;
    }
    let ended = false;
    let unreadable = false;
    let any = false;
    const parser = createParser({
      onEvent: (message) => {
        if (message.event === 'end') ended = true;
        if (message.event !== undefined && message.event !== 'job') return;
        try {
          const job = JSON.parse(message.data) as T | null;
          if (typeof job !== 'object' || job === null || typeof job.status !== 'string') return;
          any = true;
          seen(job);
          if (isEnded(job)) ended = true;
        } catch {
          unreadable = true;
        }
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      while (!ended) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      // The connection broke: reading the job takes over from here.
      if (options.signal?.aborted) throw error;
    } finally {
      reader.releaseLock();
    }
    if (unreadable && !any) options.onFallback?.('the event stream sent an event that is not JSON');
  } finally {
    options.signal?.removeEventListener('abort', stop);
    controller.abort();
  }
}
