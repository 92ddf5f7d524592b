import type { DomainEvent } from '../platform/events/decider.js';

/** Persisted names: stable strings, never renamed. User events live in `user-{id}`, never in an app stream. */
export type UserCreated = DomainEvent<'UserCreated', { userId: string; email: string; displayName: string; admin: boolean }>;
/** The key hash stays in the user's own stream, which no backup ever reads. */
export type UserApiKeyIssued = DomainEvent<'UserApiKeyIssued', { keyHash: string }>;

export type UserEvent = UserCreated | UserApiKeyIssued;
