import { z } from 'zod';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import type { Claim } from '../infrastructure/name-index/name-index.port.js';
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

/**
 * Where a kind's streams live: the app's own stream (`app-{appId}`), one stream per entity of an
 * app (`{kind}-{appId}--{id}`), or the installation's (users, the purge record). An app's archive
 * holds the first two.
 */
export type StreamPlace = 'app' | 'entity' | 'installation';

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

/** A stored event whose type and data are those of its stream's union. */
export type StoredOf<E extends DomainEvent> = Omit<StoredEvent, 'type' | 'data'> & E;

/**
 * The users an event names in its data besides its actor (a contributor, who created a reverted
 * content): a backup lists them in users.json, a restore maps each to this installation's user.
 */
export interface UserReferences<E extends DomainEvent> {
  /** Calls `visit` with each user id the event names (none for most events). */
  each(event: E, visit: (userId: string) => void): void;
  /** The event with each such id replaced by `to(id)`; the very same event when it names none. */
  map(event: E, to: (userId: string) => string): E;
}

/** What one entity's rollback step sees besides its own stream. */
export interface RevertContext {
  readonly appId: string;
  /** The store position the app is brought back to: events at or before it make the target state. */
  readonly targetPosition: number;
  /** Facts a kind's steps leave for the kinds that come after it (whether a content's schema comes back), by key and id. */
  share(key: string, id: string, value: unknown): void;
  shared<T>(key: string, id: string): T | undefined;
}

/** What brings one entity back to its state at the target: events its own decider decided. */
export interface EntityRevert<E extends DomainEvent> {
  change: 'created' | 'changed' | 'deleted';
  /** How the report names the entity: a schema's name, a content's or asset's id. */
  label: string;
  events: E[];
  /**
   * A unique name the entity gives up (`take: false`) or takes again, as its commands would: freed,
   * or reserved and committed, once the events are stored.
   */
  claim?: { claim: Claim; owner: string; take: boolean };
  /** Stored bytes the events point at, which must still be there; otherwise `problem` is the rollback's answer (409). */
  blobs?: readonly { key: string; problem: string }[];
}

/** How a kind's entities are rolled back (rollbacks visit kinds in the order `after` makes). */
export interface StreamRollback<E extends DomainEvent> {
  /** The key of this kind in a rollback's report of changes (`schemas`). */
  readonly report: string;
  /** Kinds whose entities are rolled back first, because this kind's steps read what theirs shared. */
  readonly after?: readonly StreamKind[];
  /**
   * The step for one entity (its id and its whole stream, oldest first, upcast): undefined, or no
   * events, when it is as it was at the target already.
   */
  revert(entityId: string, history: readonly StoredOf<E>[], context: RevertContext): EntityRevert<E> | undefined;
}

/**
 * What a diff of two states of an app (a backup against another, or against the live app)
 * compares of one entity, as its stream's state shows it. Only what lives is an entry: an entity
 * deleted on one side is one the diff says was added or removed.
 */
export interface DiffEntry {
  readonly id: string;
  /** How a person recognises it: a schema's name, an asset's file name. */
  readonly label: string;
  /** Compared one by one (a schema's fields, a content's data fields and status): each is added, removed or changed. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** What only accumulates (an asset's file versions), by key: the diff lists those one side has and the other lacks. */
  readonly versions?: Readonly<Record<string, unknown>>;
}

/** How a kind's entities appear in a diff: the entries an entity's folded state makes (none once it is deleted). */
export interface StreamDiff<S> {
  /** The kind in the diff's report (`schemas`, `contents`, `assets`, `contributors`): one per stream kind. */
  readonly report: string;
  /**
   * Properties named `{fieldPrefix}{name}` are the entity's own fields (a content's data, a
   * schema's fields): a change lists their names as `fields`, as the HTTP contract words it.
   */
  readonly fieldPrefix?: string;
  entries(state: S, entityId: string): readonly DiffEntry[];
}

/**
 * One kind of stream: its events, its decider, and the rules commands apply, so that an event from
 * outside (an archive) can be checked as if a command had decided it: `check` answers why the event
 * could not have followed the state, or undefined when it could. The facts below are what backups,
 * restores and rollbacks need to know of the kind's events, so their core lists no kinds.
 */
export interface StreamDefinition<S = unknown, E extends DomainEvent = DomainEvent> {
  readonly kind: StreamKind;
  readonly place: StreamPlace;
  readonly events: readonly EventDefinition[];
  readonly decider: StateFold<S, E>;
  check(state: S, event: E, context: CheckContext): string | undefined | Promise<string | undefined>;
  readonly users?: UserReferences<E>;
  /** The archive entries an event needs besides its own line (an asset's file version), given its entity's id. */
  entries?(event: E, entityId: string): readonly string[];
  readonly rollback?: StreamRollback<E>;
  /** What a diff of two states of an app compares of this kind's entities. */
  readonly diff?: StreamDiff<S>;
  /**
   * The typed view: true when the event is one of this kind's. The catalog checked every event's
   * data when it was appended or archived, so the type name says what the data holds.
   */
  holds<T extends { type: string }>(event: T): event is T & E;
}

export function defineStream<S, E extends DomainEvent>(definition: Omit<StreamDefinition<S, E>, 'holds'>): StreamDefinition<S, E> {
  const types: ReadonlySet<string> = new Set(definition.events.map((event) => event.type));
  return { ...definition, holds: <T extends { type: string }>(event: T): event is T & E => types.has(event.type) };
}

/** Turns the first problems zod found into one line that names the fields. */
export function describeIssues(error: z.ZodError, prefix = 'data'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${[prefix, ...issue.path.map(String)].join('.')}: ${issue.message}`)
    .join('; ');
}
