/** Who is calling: resolved from the API key by the auth guard and attached to the request. */
export interface Principal {
  userId: string;
  email: string;
  displayName: string;
  admin: boolean;
}

export const APP_ROLES = ['Owner', 'Developer', 'Editor', 'Reader'] as const;
export type AppRole = (typeof APP_ROLES)[number];

/** The system itself acts as this user id (bootstrap, restores of events with unknown actors). */
export const SYSTEM_ACTOR = 'system';
