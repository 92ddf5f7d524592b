/**
 * Every route the server serves, by a name the clients use instead of writing paths: method and
 * path template (`{app}` is the app's name, the rest ids). Plain data with no zod, so the CLI and
 * the admin page load it at no cost; api-operations.ts gives each route its schemas and words,
 * and a test keeps both equal to what Nest serves.
 */
export const API_ROUTES = {
  'health.get': { method: 'GET', path: '/health' },
  'health.live': { method: 'GET', path: '/health/live' },
  'health.ready': { method: 'GET', path: '/health/ready' },

  'users.create': { method: 'POST', path: '/api/users' },
  'users.list': { method: 'GET', path: '/api/users' },
  'users.me': { method: 'GET', path: '/api/users/me' },
  'users.me.rotateKey': { method: 'POST', path: '/api/users/me/api-key' },
  'users.rotateKey': { method: 'POST', path: '/api/users/{id}/api-key' },

  'apps.create': { method: 'POST', path: '/api/apps' },
  'apps.list': { method: 'GET', path: '/api/apps' },
  'apps.get': { method: 'GET', path: '/api/apps/{app}' },
  'apps.update': { method: 'PUT', path: '/api/apps/{app}' },
  'apps.delete': { method: 'DELETE', path: '/api/apps/{app}' },
  'apps.contributors.add': { method: 'POST', path: '/api/apps/{app}/contributors' },
  'apps.contributors.remove': { method: 'DELETE', path: '/api/apps/{app}/contributors/{userId}' },
  'apps.history': { method: 'GET', path: '/api/apps/{app}/events' },

  'schemas.create': { method: 'POST', path: '/api/apps/{app}/schemas' },
  'schemas.list': { method: 'GET', path: '/api/apps/{app}/schemas' },
  'schemas.get': { method: 'GET', path: '/api/apps/{app}/schemas/{schema}' },
  'schemas.addField': { method: 'POST', path: '/api/apps/{app}/schemas/{schema}/fields' },
  'schemas.delete': { method: 'DELETE', path: '/api/apps/{app}/schemas/{schema}' },

  'contents.create': { method: 'POST', path: '/api/apps/{app}/content/{schema}' },
  'contents.list': { method: 'GET', path: '/api/apps/{app}/content/{schema}' },
  'contents.get': { method: 'GET', path: '/api/apps/{app}/content/{schema}/{id}' },
  'contents.update': { method: 'PUT', path: '/api/apps/{app}/content/{schema}/{id}' },
  'contents.setStatus': { method: 'PUT', path: '/api/apps/{app}/content/{schema}/{id}/status' },
  'contents.delete': { method: 'DELETE', path: '/api/apps/{app}/content/{schema}/{id}' },

  'assets.create': { method: 'POST', path: '/api/apps/{app}/assets' },
  'assets.list': { method: 'GET', path: '/api/apps/{app}/assets' },
  'assets.get': { method: 'GET', path: '/api/apps/{app}/assets/{id}' },
  'assets.replaceFile': { method: 'PUT', path: '/api/apps/{app}/assets/{id}/content' },
  'assets.delete': { method: 'DELETE', path: '/api/apps/{app}/assets/{id}' },
  'assets.file': { method: 'GET', path: '/api/apps/{app}/assets/{id}/content' },

  'appBackups.create': { method: 'POST', path: '/api/apps/{app}/backups' },
  'appBackups.list': { method: 'GET', path: '/api/apps/{app}/backups' },
  'appBackups.get': { method: 'GET', path: '/api/apps/{app}/backups/{id}' },
  'appBackups.events': { method: 'GET', path: '/api/apps/{app}/backups/{id}/events' },
  'appBackups.archive': { method: 'GET', path: '/api/apps/{app}/backups/{id}/archive' },
  'appBackups.delete': { method: 'DELETE', path: '/api/apps/{app}/backups/{id}' },
  'appBackups.links.create': { method: 'POST', path: '/api/apps/{app}/backups/{id}/links' },
  'appBackups.links.list': { method: 'GET', path: '/api/apps/{app}/backups/{id}/links' },
  'appBackups.links.revoke': { method: 'DELETE', path: '/api/apps/{app}/backups/{id}/links/{linkId}' },

  'backupPolicy.put': { method: 'PUT', path: '/api/apps/{app}/backup-policy' },
  'backupPolicy.get': { method: 'GET', path: '/api/apps/{app}/backup-policy' },
  'backupPolicy.delete': { method: 'DELETE', path: '/api/apps/{app}/backup-policy' },

  'rollbacks.start': { method: 'POST', path: '/api/apps/{app}/rollback' },
  'rollbacks.list': { method: 'GET', path: '/api/apps/{app}/rollbacks' },
  'rollbacks.get': { method: 'GET', path: '/api/apps/{app}/rollbacks/{id}' },
  'rollbacks.events': { method: 'GET', path: '/api/apps/{app}/rollbacks/{id}/events' },

  'backups.list': { method: 'GET', path: '/api/backups' },
  'backups.get': { method: 'GET', path: '/api/backups/{id}' },
  'backups.events': { method: 'GET', path: '/api/backups/{id}/events' },
  'backups.archive': { method: 'GET', path: '/api/backups/{id}/archive' },
  'backups.delete': { method: 'DELETE', path: '/api/backups/{id}' },
  'backups.links.create': { method: 'POST', path: '/api/backups/{id}/links' },
  'backups.links.list': { method: 'GET', path: '/api/backups/{id}/links' },
  'backups.links.revoke': { method: 'DELETE', path: '/api/backups/{id}/links/{linkId}' },
  'links.archive': { method: 'GET', path: '/api/links/{linkId}/archive' },

  'restores.start': { method: 'POST', path: '/api/restore' },
  'restores.list': { method: 'GET', path: '/api/restore' },
  'restores.get': { method: 'GET', path: '/api/restore/{id}' },
  'restores.events': { method: 'GET', path: '/api/restore/{id}/events' },
} as const satisfies Record<string, { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: `/${string}` }>;

export type RouteName = keyof typeof API_ROUTES;

/**
 * A backup's routes: through its app (Owners, Developers and admins) or by id alone (admins, also
 * after the app was deleted). Pick one with the app or without, and pass `{ app, id }` to either.
 */
const BACKUP_ROUTES = {
  ofApp: { list: 'appBackups.list', get: 'appBackups.get', archive: 'appBackups.archive', delete: 'appBackups.delete', createLink: 'appBackups.links.create' },
  byId: { list: 'backups.list', get: 'backups.get', archive: 'backups.archive', delete: 'backups.delete', createLink: 'backups.links.create' },
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
