import type { App, AppRole as Role } from '@contract/apps.schemas.js';
import type { User as Me } from '@contract/users.schemas.js';

/** What the page shows follows docs/api.md's table: backups need Owner or Developer (or admin). */
export const BACKUP_ROLES: readonly Role[] = ['Owner', 'Developer'];

export function roleOf(app: App, me: Me): Role | null {
  return app.contributors.find((c) => c.userId === me.id)?.role ?? null;
}

export function canBackUp(app: App, me: Me): boolean {
  if (me.admin) return true;
  const role = roleOf(app, me);
  return role !== null && BACKUP_ROLES.includes(role);
}

/** Rollbacks rewrite the app in place: Owners and admins only (docs/api.md). */
export function canRollBack(app: App, me: Me): boolean {
  return me.admin || roleOf(app, me) === 'Owner';
}
