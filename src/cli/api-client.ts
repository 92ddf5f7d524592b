import type { ApiErrorBody, Page } from './api-types.js';
import { CliError, ExitCode, type ExitCodeValue, usageError } from './exit-codes.js';

/** Lists page with `top` up to this (docs/api.md, "Lists"). */
export const MAX_PAGE = 1000;

/** What a command can add to an error message, by HTTP status: the next step for the person. */
export type ErrorHints = Partial<Record<number, string>>;

export interface RequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** A streamed body (an upload); `headers` must then carry its content type. */
  stream?: ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Statuses returned to the caller instead of raised as errors (404 for a route an older server lacks). */
  accept?: readonly number[];
  hints?: ErrorHints;
  signal?: AbortSignal;
}

/** `--url` must be an http(s) URL; anything else is a usage error said at once. */
export function parseServerUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--url ${JSON.stringify(raw)} is not a URL; pass the server's address, like http://localhost:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be an http:// or https:// address, not ${url.protocol}`);
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return url;
}

/**
 * Path segments (app names and ids from the command line or a server's answer) are encoded, so
 * they cannot change the route. An empty value, `.` and `..` are refused: a URL takes the last two
 * as steps up (encodeURIComponent keeps dots), so `apps/shop/backups/..` would name the app itself.
 */
export function seg(value: string): string {
  if (value === '' || value === '.' || value === '..') throw usageError(`${JSON.stringify(value)} is not an app name or an id`);
  return encodeURIComponent(value);
}

/**
 * The HTTP API over fetch. Every answer outside 2xx becomes a CliError whose exit code follows
 * the status (docs in exit-codes.ts) and whose message is the server's, with what to do next.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: URL,
    private readonly token: string | undefined,
  ) {}

  url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.baseUrl);
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...options.headers };
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: options.signal };
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.json);
    } else if (options.stream) {
      init.body = options.stream;
      // A streamed request body needs half duplex in Node's fetch.
      init.duplex = 'half';
    }
    let response: Response;
    try {
      response = await fetch(this.url(path), init);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw this.unreachable(error);
    }
    if (response.ok || options.accept?.includes(response.status)) return response;
    throw await this.failure(response, options.hints);
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`The server answered ${method} ${path} with something that is not JSON; is ${this.baseUrl.origin} an AppVault server?`, ExitCode.unavailable, response.status);
    }
  }

  get<T>(path: string, hints?: ErrorHints): Promise<T> {
    return this.json<T>('GET', path, { hints });
  }

  /** Every item of a paged list, page by page (`top` at most 1000). */
  async listAll<T>(path: string, hints?: ErrorHints): Promise<Page<T>> {
    const items: T[] = [];
    for (let skip = 0; ; ) {
      const page = await this.get<Page<T>>(`${path}${path.includes('?') ? '&' : '?'}top=${MAX_PAGE}&skip=${skip}`, hints);
      items.push(...page.items);
      skip += page.items.length;
      // A list that shrinks meanwhile ends early; one that grows is read to its new end.
      if (page.items.length === 0 || skip >= page.total) return { total: Math.max(page.total, items.length), items };
    }
  }

  unreachable(error: unknown): CliError {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const detail = code ?? (cause instanceof Error ? cause.message : String(cause));
    return new CliError(`Cannot reach the server at ${this.baseUrl.origin} (${detail}): is it running? Pass --url or set APPVAULT_URL`, ExitCode.unavailable);
  }

  async failure(response: Response, hints: ErrorHints = {}): Promise<CliError> {
    const status = response.status;
    let message = response.statusText || `HTTP ${status}`;
    try {
      const text = await response.text();
      const body = JSON.parse(text) as ApiErrorBody;
      if (Array.isArray(body.message)) message = body.message.join('; ');
      else if (typeof body.message === 'string' && body.message) message = body.message;
    } catch {
      // Not the API's error shape: the status line says enough.
    }
    const hint = hints[status];
    const [code, text] = describe(status, message, hint, this.token !== undefined);
    return new CliError(text, code, status);
  }
}

function describe(status: number, message: string, hint: string | undefined, hasToken: boolean): [ExitCodeValue, string] {
  const withHint = hint ? `${message}. ${hint}` : message;
  if (status === 401) {
    return [ExitCode.notAuthorized, hasToken ? `The server refused the key (${message}): pass --token or set APPVAULT_TOKEN` : `No API key was given (${message}): pass --token or set APPVAULT_TOKEN`];
  }
  if (status === 403) return [ExitCode.notAuthorized, hint ? withHint : `${message}. The key is valid but may not do this: use an admin's key, or one with the right role on the app`];
  if (status === 404 || status === 410) return [ExitCode.notFound, withHint];
  if (status === 409) return [ExitCode.conflict, withHint];
  if (status >= 500) return [ExitCode.unavailable, `The server failed (${status}): ${withHint}`];
  return [ExitCode.usage, withHint];
}
