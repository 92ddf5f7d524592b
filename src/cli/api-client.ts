import { PathSegmentError, type RouteName } from '../contract/api-routes.js';
import { ApiClient, ApiError, NotJsonError, type SendOptions, UnreachableError } from '../contract/client/api-client.js';
import type { CallInput, ItemOf, PagedRoute, ResultOf } from '../contract/client/api-types.js';
import type { PageOf } from '../contract/common.schemas.js';
import { CliError, ExitCode, type ExitCodeValue, usageError } from './exit-codes.js';

/** What a command can add to an error message, by HTTP status: the next step for the person. */
export type ErrorHints = Partial<Record<number, string>>;

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
 * The contract's client (src/contract/client) as the CLI uses it: every failure becomes a
 * CliError whose exit code follows the status (exit-codes.ts) and whose message is the server's,
 * with what to do next.
 */
export class CliApi {
  readonly api: ApiClient;

  constructor(
    readonly baseUrl: URL,
    private readonly token: string | undefined,
  ) {
    this.api = new ApiClient({ baseUrl, token });
  }

  call<R extends RouteName>(route: R, input: CallInput<R>, hints?: ErrorHints, options?: SendOptions): Promise<ResultOf<R>> {
    return this.translating(() => this.api.call(route, input, options), hints);
  }

  send<R extends RouteName>(route: R, input: CallInput<R>, hints?: ErrorHints, options?: SendOptions): Promise<Response> {
    return this.translating(() => this.api.send(route, input, options), hints);
  }

  /** Every item of a paged list, all pages. */
  listAll<R extends PagedRoute>(route: R, input: CallInput<R>, hints?: ErrorHints): Promise<PageOf<ItemOf<R>>> {
    return this.translating(() => this.api.listAll(route, input), hints);
  }

  async translating<T>(work: () => Promise<T>, hints: ErrorHints = {}): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.failure(error, hints);
    }
  }

  private failure(error: unknown, hints: ErrorHints): unknown {
    if (error instanceof PathSegmentError) return usageError(error.message);
    if (error instanceof ApiError) {
      const message = error.serverMessage ?? (error.statusText || `HTTP ${error.status}`);
      const [code, text] = describe(error.status, message, hints[error.status], this.token !== undefined);
      return new CliError(text, code, error.status);
    }
    if (error instanceof NotJsonError) {
      return new CliError(`The server answered ${error.method} ${error.target} with something that is not JSON; is ${this.baseUrl.origin} an AppVault server?`, ExitCode.unavailable, error.status);
    }
    if (error instanceof UnreachableError) {
      // A streamed upload that failed while it was read says why itself.
      if (error.cause instanceof CliError) return error.cause;
      const cause = error.cause instanceof Error && error.cause.cause instanceof Error ? error.cause.cause : error.cause;
      const code = (cause as NodeJS.ErrnoException | undefined)?.code;
      const detail = code ?? (cause instanceof Error ? cause.message : String(cause));
      return new CliError(`Cannot reach the server at ${this.baseUrl.origin} (${detail}): is it running? Pass --url or set APPVAULT_URL`, ExitCode.unavailable);
    }
    return error;
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
