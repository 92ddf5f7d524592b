import { API_ROUTES, type RouteName, routePath } from '../api-routes.js';
import { PAGE_MAX } from '../api-values.js';
import type { PageOf } from '../common.schemas.js';
import type { CallInput, ItemOf, PagedRoute, ResultOf } from './api-types.js';

/**
 * The one client of the HTTP API, for the CLI and the admin page alike: routes by name from the
 * contract's table (never paths written by hand), answers typed by the contract's schemas, errors
 * as ApiError with the server's own message. Only what both Node and browsers have (fetch,
 * ReadableStream, TextDecoder); it imports the contract's types, never zod itself.
 */

/** An answer outside 2xx: its status and the API's message (`{ statusCode, error, message }`), if it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    /** The server's own words; undefined when the body was not the API's error shape. */
    readonly serverMessage: string | undefined,
  ) {
    super(serverMessage ?? `The server answered ${status}${statusText ? ` ${statusText}` : ''}`);
    this.name = 'ApiError';
  }
}

/** fetch failed: nothing answered (refused, unknown host, reset), or the request body failed while it was sent. */
export class UnreachableError extends Error {
  constructor(override readonly cause: unknown) {
    super(`The server could not be reached (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'UnreachableError';
  }
}

/** A 2xx answer whose body is not JSON: not an AppVault server, or a proxy answering for it. */
export class NotJsonError extends Error {
  constructor(
    readonly method: string,
    /** The path and query asked for. */
    readonly target: string,
    readonly status: number,
  ) {
    super(`The server answered ${method} ${target} with something that is not JSON`);
    this.name = 'NotJsonError';
  }
}

/** The API's message in an error body: `message` as text, or a list of them. */
function messageOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { message?: unknown } | null;
    const message = body && typeof body === 'object' ? body.message : undefined;
    if (typeof message === 'string' && message) return message;
    if (Array.isArray(message)) return message.map(String).join('; ');
  } catch {
    // Not the API's error shape: the status says enough.
  }
  return undefined;
}

export function apiErrorFrom(status: number, statusText: string, body: string): ApiError {
  return new ApiError(status, statusText, messageOf(body));
}

async function apiError(response: Response): Promise<ApiError> {
  return apiErrorFrom(response.status, response.statusText, await response.text().catch(() => ''));
}

/** A restore or a rollback answers its job, or with `dryRun: true` its report: which one came. */
export const isDryRun = <T extends object>(answer: T): answer is Extract<T, { dryRun: true }> => 'dryRun' in answer;

export interface ApiClientOptions {
  /** Where the server is (`http://host:8080/`, maybe under a path); absent in a page served by the server itself. */
  baseUrl?: URL;
  /** The API key, sent as a Bearer token. */
  token?: string;
}

export interface SendOptions {
  /** A body of any kind (an upload, streamed); its content type goes in the input's headers. */
  raw?: RequestInit['body'];
  /** Statuses handed back as they are instead of raised as ApiError (416 on a resumed download, 404 of an older server). */
  accept?: readonly number[];
}

/** A call's parts without the contract's types: what generic helpers (paging, job streams) pass on. */
export interface RequestParts {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class ApiClient {
  readonly baseUrl: URL | undefined;
  readonly token: string | undefined;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
  }

  /** A route's URL: its path with the parameters filled in and encoded, and the query. */
  url<R extends RouteName>(route: R, input: Pick<CallInput<R>, 'params' | 'query'>): string {
    return this.urlOf(route, input as RequestParts);
  }

  private urlOf(route: RouteName, input: RequestParts): string {
    const target = this.target(route, input);
    return this.baseUrl ? new URL(target.replace(/^\//, ''), this.baseUrl).toString() : target;
  }

  /** The path and query of a call, as a server sees them. */
  private target(route: RouteName, input: RequestParts): string {
    const path = routePath(route, input.params ?? {});
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(input.query ?? {})) if (value !== undefined) query.set(name, String(value));
    return query.size > 0 ? `${path}?${query.toString()}` : path;
  }

  /** The headers every call sends: the key, and what it asks for. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), accept: 'application/json', ...extra };
  }

  /** Calls a route and answers its JSON (undefined for an answer without a body). */
  async call<R extends RouteName>(route: R, input: CallInput<R>, options: SendOptions = {}): Promise<ResultOf<R>> {
    return (await this.json(route, input as RequestParts, options)) as ResultOf<R>;
  }

  /** `call` for helpers that pass a route chosen at run time. */
  async json(route: RouteName, input: RequestParts, options: SendOptions = {}): Promise<unknown> {
    const response = await this.request(route, input, options);
    const text = await response.text();
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new NotJsonError(API_ROUTES[route].method, this.target(route, input), response.status);
    }
  }

  /** Calls a route and hands back the response as it is, for bodies that are not JSON: archives, event streams. */
  async send<R extends RouteName>(route: R, input: CallInput<R>, options: SendOptions = {}): Promise<Response> {
    return this.request(route, input as RequestParts, options);
  }

  /** `send` for helpers that pass a route chosen at run time. */
  async request(route: RouteName, input: RequestParts, options: SendOptions = {}): Promise<Response> {
    const { method } = API_ROUTES[route];
    const headers = this.headers(input.headers);
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: input.signal };
    if (input.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(input.body);
    } else if (options.raw !== undefined) {
      init.body = options.raw;
      // A streamed request body needs half duplex in fetch.
      if (options.raw instanceof ReadableStream) init.duplex = 'half';
    }
    // Built first: a parameter that cannot be a path segment is refused before anything is sent.
    const url = this.urlOf(route, input);
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      if (input.signal?.aborted) throw error;
      throw new UnreachableError(error);
    }
    if (response.ok || options.accept?.includes(response.status)) return response;
    throw await apiError(response);
  }

  /** Every item of a paged list, page by page (`top` at most PAGE_MAX). */
  async listAll<R extends PagedRoute>(route: R, input: CallInput<R>): Promise<PageOf<ItemOf<R>>> {
    const parts = input as RequestParts;
    const items: ItemOf<R>[] = [];
    for (let skip = 0; ; ) {
      const page = (await this.json(route, { ...parts, query: { ...parts.query, top: PAGE_MAX, skip } })) as PageOf<ItemOf<R>>;
      items.push(...page.items);
      skip += page.items.length;
      // A list that shrinks meanwhile ends early; one that grows is read to its new end.
      if (page.items.length === 0 || skip >= page.total) return { total: Math.max(page.total, items.length), items };
    }
  }
}
