import { useEffect, useState } from 'preact/hooks';
import { ApiClient, ApiError, apiErrorFrom } from '@contract/client/api-client.js';
import type { RouteName } from '@contract/api-routes.js';
import type { CallInput, ResultOf } from '@contract/client/api-types.js';
import { followJob, type Job, type JobRef } from '@contract/client/job-events.js';

/**
 * The page's use of the contract's client (src/contract/client): every call goes to the
 * documented API by route name, with the key as a Bearer token.
 */
export function apiFor(key: string): ApiClient {
  return new ApiClient({ token: key });
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Reads from the API when a page shows and whenever `deps` change; a read the page no longer needs says nothing. */
export function useRead<T>(read: (signal: AbortSignal) => Promise<T>, deps: unknown[]): [value: T | null, error: string | null] {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    read(abort.signal).then(
      (found) => setValue(() => found),
      (e: unknown) => !abort.signal.aborted && setError(errorText(e)),
    );
    return () => abort.abort();
  }, deps);
  return [value, error];
}

/**
 * Follows a job live until it ends: its event stream, or, once that breaks (a proxy cut it, the
 * server restarted), the job read every second. A refusal (4xx) is raised; an abort ends quietly.
 */
export async function followLive<T extends Job>(api: ApiClient, ref: JobRef, onJob: (job: T) => void, signal: AbortSignal): Promise<void> {
  await followJob<T>(api, ref, { onJob, pollMs: 1000, signal, pollAfter: (error) => !(error instanceof ApiError && error.status < 500) });
}

/** A multipart upload with progress: fetch cannot report upload progress, XMLHttpRequest can. */
export function uploadForm<R extends RouteName>(api: ApiClient, route: R, input: CallInput<R>, form: FormData, onProgress: (loaded: number, total: number) => void): Promise<ResultOf<R>> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', api.url(route, input));
    for (const [name, value] of Object.entries(api.headers())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve((xhr.responseText ? JSON.parse(xhr.responseText) : undefined) as ResultOf<R>);
        } catch {
          reject(new Error('The server answered the upload with something that is not JSON'));
        }
      } else reject(apiErrorFrom(xhr.status, xhr.statusText, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(new Error('The upload could not reach the server')));
    xhr.addEventListener('abort', () => reject(new Error('The upload was cancelled')));
    xhr.send(form);
  });
}
