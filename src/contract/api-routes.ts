import { APP_ROLES, type AppRole } from './api-values.js';

/**
 * Who may call a route: anyone (no key), any user with a key, admins, or the users with one of
 * these roles on the app the path names (admins always may).
 */
export type Audience = 'public' | 'user' | 'admin' | readonly AppRole[];

const PUBLIC = 'public';
const USER = 'user';
const ADMIN = 'admin';
export const ANY_ROLE: readonly AppRole[] = APP_ROLES;
export const WRITERS: readonly AppRole[] = ['Owner', 'Developer', 'Editor'];
export const MAINTAINERS: readonly AppRole[] = ['Owner', 'Developer'];
const OWNERS: readonly AppRole[] = ['Owner'];

/**
 * Every route the server serves, by a name the clients use instead of writing paths: method, path
 * template (`{app}` is the app's name, the rest ids) and audience. Plain data with no zod, so the
 * CLI and the admin page load it at no cost; api-operations.ts gives each route its schemas and
 * words, and a test keeps both equal to what Nest serves and to who its guard lets in.
 */
export const API_ROUTES = {
  'health.get': { method: 'GET', path: '/health', audience: PUBLIC },
  'health.live': { method: 'GET', path: '/health/live', audience: PUBLIC },
  'health.ready': { method: 'GET', path: '/health/ready', audience: PUBLIC },

  'users.create': { method: 'POST', path: '/api/users', audience: ADMIN },
  'users.list': { method: 'GET', path: '/api/users', audience: ADMIN },
  'users.me': { method: 'GET', path: '/api/users/me', audience: USER },
  'users.me.rotateKey': { method: 'POST', path: '/api/users/me/api-key', audience: USER },
  'users.rotateKey': { method: 'POST', path: '/api/users/{id}/api-key', audience: ADMIN },

  'apps.create': { method: 'POST', path: '/api/apps', audience: USER },
  'apps.list': { method: 'GET', path: '/api/apps', audience: USER },
  'apps.get': { method: 'GET', path: '/api/apps/{app}', audience: ANY_ROLE },
  'apps.update': { method: 'PUT', path: '/api/apps/{app}', audience: MAINTAINERS },
  'apps.delete': { method: 'DELETE', path: '/api/apps/{app}', audience: OWNERS },
  'apps.contributors.add': { method: 'POST', path: '/api/apps/{app}/contributors', audience: OWNERS },
  'apps.contributors.remove': { method: 'DELETE', path: '/api/apps/{app}/contributors/{userId}', audience: OWNERS },
  'apps.history': { method: 'GET', path: '/api/apps/{app}/events', audience: MAINTAINERS },

  'schemas.create': { method: 'POST', path: '/api/apps/{app}/schemas', audience: MAINTAINERS },
  'schemas.list': { method: 'GET', path: '/api/apps/{app}/schemas', audience: ANY_ROLE },
  'schemas.get': { method: 'GET', path: '/api/apps/{app}/schemas/{schema}', audience: ANY_ROLE },
  'schemas.addField': { method: 'POST', path: '/api/apps/{app}/schemas/{schema}/fields', audience: MAINTAINERS },
  'schemas.delete': { method: 'DELETE', path: '/api/apps/{app}/schemas/{schema}', audience: MAINTAINERS },

  'contents.create': { method: 'POST', path: '/api/apps/{app}/content/{schema}', audience: WRITERS },
  'contents.list': { method: 'GET', path: '/api/apps/{app}/content/{schema}', audience: ANY_ROLE },
  'contents.get': { method: 'GET', path: '/api/apps/{app}/content/{schema}/{id}', audience: ANY_ROLE },
  'contents.update': { method: 'PUT', path: '/api/apps/{app}/content/{schema}/{id}', audience: WRITERS },
  'contents.setStatus': { method: 'PUT', path: '/api/apps/{app}/content/{schema}/{id}/status', audience: WRITERS },
  'contents.delete': { method: 'DELETE', path: '/api/apps/{app}/content/{schema}/{id}', audience: WRITERS },

  'assets.create': { method: 'POST', path: '/api/apps/{app}/assets', audience: WRITERS },
  'assets.list': { method: 'GET', path: '/api/apps/{app}/assets', audience: ANY_ROLE },
  'assets.get': { method: 'GET', path: '/api/apps/{app}/assets/{id}', audience: ANY_ROLE },
  'assets.replaceFile': { method: 'PUT', path: '/api/apps/{app}/assets/{id}/content', audience: WRITERS },
  'assets.delete': { method: 'DELETE', path: '/api/apps/{app}/assets/{id}', audience: WRITERS },
  'assets.file': { method: 'GET', path: '/api/apps/{app}/assets/{id}/content', audience: ANY_ROLE },

  'appBackups.create': { method: 'POST', path: '/api/apps/{app}/backups', audience: MAINTAINERS },
  'appBackups.list': { method: 'GET', path: '/api/apps/{app}/backups', audience: MAINTAINERS },
  'appBackups.get': { method: 'GET', path: '/api/apps/{app}/backups/{id}', audience: MAINTAINERS },
  'appBackups.events': { method: 'GET', path: '/api/apps/{app}/backups/{id}/events', audience: MAINTAINERS },
  'appBackups.archive': { method: 'GET', path: '/api/apps/{app}/backups/{id}/archive', audience: MAINTAINERS },
  'appBackups.delete': { method: 'DELETE', path: '/api/apps/{app}/backups/{id}', audience: MAINTAINERS },
  'appBackups.verify': { method: 'POST', path: '/api/apps/{app}/backups/{id}/verify', audience: MAINTAINERS },
  'appBackups.diff': { method: 'GET', path: '/api/apps/{app}/backups/{id}/diff', audience: MAINTAINERS },
  'appBackups.diff.keyed': { method: 'POST', path: '/api/apps/{app}/backups/{id}/diff', audience: MAINTAINERS },
  'appBackups.links.create': { method: 'POST', path: '/api/apps/{app}/backups/{id}/links', audience: MAINTAINERS },
  'appBackups.links.list': { method: 'GET', path: '/api/apps/{app}/backups/{id}/links', audience: MAINTAINERS },
  'appBackups.links.revoke': { method: 'DELETE', path: '/api/apps/{app}/backups/{id}/links/{linkId}', audience: MAINTAINERS },

  'backupPolicy.put': { method: 'PUT', path: '/api/apps/{app}/backup-policy', audience: MAINTAINERS },
  'backupPolicy.get': { method: 'GET', path: '/api/apps/{app}/backup-policy', audience: MAINTAINERS },
  'backupPolicy.delete': { method: 'DELETE', path: '/api/apps/{app}/backup-policy', audience: MAINTAINERS },

  'rollbacks.start': { method: 'POST', path: '/api/apps/{app}/rollback', audience: OWNERS },
  'rollbacks.list': { method: 'GET', path: '/api/apps/{app}/rollbacks', audience: OWNERS },
  'rollbacks.get': { method: 'GET', path: '/api/apps/{app}/rollbacks/{id}', audience: OWNERS },
  'rollbacks.events': { method: 'GET', path: '/api/apps/{app}/rollbacks/{id}/events', audience: OWNERS },

  'backups.list': { method: 'GET', path: '/api/backups', audience: ADMIN },
  'backups.get': { method: 'GET', path: '/api/backups/{id}', audience: ADMIN },
  'backups.events': { method: 'GET', path: '/api/backups/{id}/events', audience: ADMIN },
  'backups.archive': { method: 'GET', path: '/api/backups/{id}/archive', audience: ADMIN },
  'backups.delete': { method: 'DELETE', path: '/api/backups/{id}', audience: ADMIN },
  'backups.verify': { method: 'POST', path: '/api/backups/{id}/verify', audience: ADMIN },
  'backups.links.create': { method: 'POST', path: '/api/backups/{id}/links', audience: ADMIN },
  'backups.links.list': { method: 'GET', path: '/api/backups/{id}/links', audience: ADMIN },
  'backups.links.revoke': { method: 'DELETE', path: '/api/backups/{id}/links/{linkId}', audience: ADMIN },
  'links.archive': { method: 'GET', path: '/api/links/{linkId}/archive', audience: PUBLIC },

  'restores.start': { method: 'POST', path: '/api/restore', audience: ADMIN },
  'restores.list': { method: 'GET', path: '/api/restore', audience: ADMIN },
  'restores.get': { method: 'GET', path: '/api/restore/{id}', audience: ADMIN },
  'restores.events': { method: 'GET', path: '/api/restore/{id}/events', audience: ADMIN },
  'restores.resume': { method: 'POST', path: '/api/restore/{id}/resume', audience: ADMIN },
  'restores.cancel': { method: 'DELETE', path: '/api/restore/{id}', audience: ADMIN },

  'recipients.list': { method: 'GET', path: '/api/recipients', audience: ADMIN },
  'recipients.create': { method: 'POST', path: '/api/recipients', audience: ADMIN },
  'recipients.delete': { method: 'DELETE', path: '/api/recipients/{name}', audience: ADMIN },
  'appRecipients.list': { method: 'GET', path: '/api/apps/{app}/recipients', audience: MAINTAINERS },
  'appRecipients.create': { method: 'POST', path: '/api/apps/{app}/recipients', audience: OWNERS },
  'appRecipients.delete': { method: 'DELETE', path: '/api/apps/{app}/recipients/{name}', audience: OWNERS },
  'installation.recipient': { method: 'GET', path: '/api/installation/recipient', audience: ADMIN },

  'repositories.create': { method: 'POST', path: '/api/repositories', audience: ADMIN },
  'repositories.list': { method: 'GET', path: '/api/repositories', audience: ADMIN },
  'repositories.get': { method: 'GET', path: '/api/repositories/{id}', audience: ADMIN },
  'repositories.update': { method: 'PUT', path: '/api/repositories/{id}', audience: ADMIN },
  'repositories.delete': { method: 'DELETE', path: '/api/repositories/{id}', audience: ADMIN },
  'repositories.check': { method: 'POST', path: '/api/repositories/{id}/check', audience: ADMIN },
  'repositories.backups': { method: 'GET', path: '/api/repositories/{id}/backups', audience: ADMIN },
} as const satisfies Record<string, { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: `/${string}`; audience: Audience }>;

export type RouteName = keyof typeof API_ROUTES;

/**
 * A backup's routes: through its app (Owners, Developers and admins) or by id alone (admins, also
 * after the app was deleted). Pick one with the app or without, and pass `{ app, id }` to either.
 */
const BACKUP_ROUTES = {
  ofApp: { list: 'appBackups.list', get: 'appBackups.get', archive: 'appBackups.archive', delete: 'appBackups.delete', verify: 'appBackups.verify', createLink: 'appBackups.links.create' },
  byId: { list: 'backups.list', get: 'backups.get', archive: 'backups.archive', delete: 'backups.delete', verify: 'backups.verify', createLink: 'backups.links.create' },
} as const satisfies Record<string, Record<string, RouteName>>;
export const backupRoutes = (app: string | undefined) => (app === undefined ? BACKUP_ROUTES.byId : BACKUP_ROUTES.ofApp);
export type RouteOf<R extends RouteName> = (typeof API_ROUTES)[R];

/** The names in a path template: `/api/apps/{app}/backups/{id}` → `app` | `id`. */
export type PathParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}` ? Name | PathParamNames<Rest> : never;
export type PathParams<R extends RouteName> = { [K in PathParamNames<RouteOf<R>['path']>]: string };

/** An app name or id that cannot be a path segment: URLs take `.` and `..` as steps up. */
export class PathSegmentError extends Error {
  constructor(readonly value: string) {
    super(`${JSON.stringify(value)} is not an app name or an id`);
    this.name = 'PathSegmentError';
  }
}

/**
 * A route's path with its parameters filled in. Each value is encoded, so it cannot change the
 * route; an empty value, `.` and `..` are refused (encodeURIComponent keeps dots, and
 * `apps/shop/backups/..` would name the app itself).
 */
export function routePath<R extends RouteName>(route: R, params: PathParams<R> | Record<string, string>): string {
  const values: Record<string, string | undefined> = params;
  return API_ROUTES[route].path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined || value === '' || value === '.' || value === '..') throw new PathSegmentError(value ?? '');
    return encodeURIComponent(value);
  });
}
