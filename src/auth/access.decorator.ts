import { SetMetadata } from '@nestjs/common';
import type { AppRole } from './principal.js';

/**
 * Every route declares who may call it; the guard refuses routes that declare nothing, so a
 * forgotten decorator fails closed instead of opening a route to everyone.
 */
export type AccessRule =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'admin' }
  /** The `:app` path parameter names an app; the caller needs one of these roles on it (admins always pass). */
  | { kind: 'app'; roles: readonly AppRole[] };

export const ACCESS_KEY = 'appvault:access';

export const Public = () => SetMetadata(ACCESS_KEY, { kind: 'public' } satisfies AccessRule);
export const Authenticated = () => SetMetadata(ACCESS_KEY, { kind: 'authenticated' } satisfies AccessRule);
export const AdminOnly = () => SetMetadata(ACCESS_KEY, { kind: 'admin' } satisfies AccessRule);
export const AppAccess = (...roles: AppRole[]) => SetMetadata(ACCESS_KEY, { kind: 'app', roles } satisfies AccessRule);

/** Role sets used across modules: the contract's audiences (src/contract/api-routes.ts). */
export { ANY_ROLE, MAINTAINERS, WRITERS } from '../contract/api-routes.js';
