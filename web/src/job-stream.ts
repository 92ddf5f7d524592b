import { createParser } from 'eventsource-parser';
import { ApiError, type ApiClient, messageOf } from './api-client.js';
import { isRunning, type Job } from './api.types.js';

/**
 * Follows a job (backup or restore) over its server-sent event stream, `GET …/events`. EventSource
 * cannot send an Authorization header, so the stream is read with fetch and parsed with
 * eventsource-parser. Resolves when the job has ended (the server ends the stream then). If the
 * stream breaks before that, the job is read every second until it ends.
 */
export async function followJob<T extends Job>(api: ApiClient, jobPath: string, onJob: (job: T) => void, signal: AbortSignal): Promise<void> {
  let ended = false;
  try {
    const response = await fetch(`${jobPath}/events`, { headers: api.headers({ accept: 'text/event-stream' }), signal });
    if (!response.ok || !response.body) {
      const body: unknown = await response.json().catch(() => null);
      throw new ApiError(response.status, messageOf(body, response.status, response.statusText));
    }
    const parser = createParser({
      onEvent: (message) => {
        if (message.event === 'job') {
          const job = JSON.parse(message.data) as T;
          onJob(job);
          if (!isRunning(job)) ended = true;
        } else if (message.event === 'end') {
          ended = true;
        }
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } catch (error) {
    if (signal.aborted) return;
    if (error instanceof ApiError && error.status < 500) throw error;
  }
  // The stream ended early (a proxy cut it, the server restarted): read the job until it ends.
  while (!ended && !signal.aborted) {
    const job = await api.get<T>(jobPath, signal).catch((error: unknown) => {
      if (signal.aborted) return null;
      throw error;
    });
    if (!job) return;
    onJob(job);
    if (!isRunning(job)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
