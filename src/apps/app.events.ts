import type { DomainEvent } from '../platform/events/decider.js';
import type { AppRole } from '../platform/auth/principal.js';

/** Persisted names: stable strings, never renamed. All live in the stream `app-{appId}`. */
export type AppCreated = DomainEvent<'AppCreated', { appId: string; name: string; label: string; description: string }>;
export type AppUpdated = DomainEvent<'AppUpdated', { label: string; description: string }>;
export type AppContributorAssigned = DomainEvent<'AppContributorAssigned', { userId: string; role: AppRole }>;
export type AppContributorRemoved = DomainEvent<'AppContributorRemoved', { userId: string }>;
export type AppDeleted = DomainEvent<'AppDeleted', { name: string }>;

export type AppEvent = AppCreated | AppUpdated | AppContributorAssigned | AppContributorRemoved | AppDeleted;
