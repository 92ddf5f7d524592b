import { API_ROUTES, type RouteName } from '@contract/api-routes.js';
import type { AppRole } from '@contract/api-values.js';
import type { App } from '@contract/apps.schemas.js';
import type { User as Me } from '@contract/users.schemas.js';

export function roleOf(app: App, me: Me): AppRole | null {
  return app.contributors.find((c) => c.userId === me.id)?.role ?? null;
}

/** Whether the contract lets this user call a route of this app: its audience (docs/api.md), admins always. */
function mayCall(route: RouteName, app: App, me: Me): boolean {
  if (me.admin) return true;
  const { audience } = API_ROUTES[route];
  if (typeof audience === 'string') return audience !== 'admin';
  const role = roleOf(app, me);
  return role !== null && audience.includes(role);
}

/** Backups need Owner or Developer (or admin). */
export const canBackUp = (app: App, me: Me) => mayCall('appBackups.create', app, me);

/** Rollbacks rewrite the app in place: Owners and admins only. */
export const canRollBack = (app: App, me: Me) => mayCall('rollbacks.start', app, me);

/** An app's own recipients: its Owners and admins. */
export const canManageRecipients = (app: App, me: Me) => mayCall('appRecipients.create', app, me);
