import { z } from 'zod';
import type { DomainEvent, StateFold } from './decider.js';

/**
 * The event catalog: every persisted event type, declared once by the domain module that owns it
 * (`*.events.ts`): its stable name, the current version of its data's shape, a zod schema for that
 * shape, and upcasters from every older version. Appends validate against it, reads upcast through
 * it, and restores check every archived event with it (see EventCatalogService).
 */

// The id rule is shared with the HTTP contract.
export { ENTITY_ID, ENTITY_ID_MAX, entityId } from '../platform/text/identifier.rules.js';

export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export interface EventDefinition<T extends string = string, D extends Record<string, unknown> = Record<string, unknown>> {
  readonly type: T;
  /** The version of the data's shape that appends write; older ones are upcast on read. */
  readonly version: number;
  readonly schema: z.ZodType<D>;
  /** `upcasters[n]` turns version n into version n + 1. */
  readonly upcasters: Readonly<Record<number, Upcaster>>;
}

export function defineEvent<T extends string, D extends Record<string, unknown>>(
  type: T,
  schema: z.ZodType<D>,
  options: { version?: number; upcasters?: Record<number, Upcaster> } = {},
): EventDefinition<T, D> {
  const version = options.version ?? 1;
  const upcasters = options.upcasters ?? {};
  for (let from = 1; from < version; from++) {
    if (!upcasters[from]) throw new Error(`Event ${type} is at version ${version} but has no upcaster from version ${from}`);
  }
  return { type, version, schema, upcasters };
}

/** The domain event a definition describes. */
export type EventOf<D> = D extends EventDefinition<infer T, infer P> ? DomainEvent<T, P> : never;

export type StreamKind = 'app' | 'schema' | 'content' | 'asset' | 'user' | 'system';

/** What a rule check may look at besides its own stream (a content's schema, say). */
export interface CheckContext {
  /** The entity id of the stream the event is in (`content-{appId}--{id}` → id). */
  readonly entityId: string;
  /** The state of another stream of the same app, as of the event being checked. */
  stateOf<S>(kind: StreamKind, id: string): Promise<S>;
  /** True for a user id the restore knows (the archive's users.json maps it), or the system. */
  knowsUser(userId: string): boolean;
  /** Claims a name unique within the app (`scope` tells which names: schema names); false when taken. */
  claimName(scope: string, name: string): boolean;
  releaseName(scope: string, name: string): void;
}

/**
 * Runs a domain rule (a decide function) and turns the DomainError it throws into the problem a
 * check reports; undefined when the rule lets the event through.
 */
export function ruleProblem(rule: () => unknown): string | undefined {
  try {
    rule();
    return undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'DomainError') return error.message;
    throw error;
  }
}

/**
 * One kind of stream: its events, its decider, and the rules commands apply, so that an event from
 * outside (an archive) can be checked as if a command had decided it: `check` answers why the event
 * could not have followed the state, or undefined when it could.
 */
export interface StreamDefinition<S = unknown, E extends DomainEvent = DomainEvent> {
  readonly kind: StreamKind;
  readonly events: readonly EventDefinition[];
  readonly decider: StateFold<S, E>;
  check(state: S, event: E, context: CheckContext): string | undefined | Promise<string | undefined>;
}

export function defineStream<S, E extends DomainEvent>(definition: StreamDefinition<S, E>): StreamDefinition<S, E> {
  return definition;
}

/** Turns the first problems zod found into one line that names the fields. */
export function describeIssues(error: z.ZodError, prefix = 'data'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${[prefix, ...issue.path.map(String)].join('.')}: ${issue.message}`)
    .join('; ');
}
