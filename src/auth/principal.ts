/** Who is calling: resolved from the API key by the auth guard and attached to the request. */
export interface Principal {
  userId: string;
  email: string;
  displayName: string;
  admin: boolean;
}

// The roles are part of the HTTP contract.
export { APP_ROLES, type AppRole } from '../contract/api-values.js';

/** The system itself acts as this user id (bootstrap, restores of events with unknown actors). */
export const SYSTEM_ACTOR = 'system';
