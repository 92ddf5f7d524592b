import type { AppRole, Principal } from './principal.js';

/** Implemented by the users module: finds the user an API key belongs to, or a user by id. */
export interface PrincipalResolver {
  byApiKey(key: string): Promise<Principal | undefined>;
  byId(userId: string): Promise<Principal | undefined>;
}

/** The slice of an app the guard needs to decide access. */
export interface AppAccessInfo {
  id: string;
  name: string;
  contributors: { userId: string; role: AppRole }[];
}

/** Implemented by the apps module: finds a live app by name or id (a deleted app is not found). */
export interface AppDirectory {
  findByName(name: string): Promise<AppAccessInfo | undefined>;
  findById(id: string): Promise<AppAccessInfo | undefined>;
  /** Ids of the live apps a user contributes to. */
  appsOf(userId: string): Promise<string[]>;
}

export const PRINCIPAL_RESOLVER = Symbol('PRINCIPAL_RESOLVER');
export const APP_DIRECTORY = Symbol('APP_DIRECTORY');
