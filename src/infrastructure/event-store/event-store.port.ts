import { CURSOR_FORM } from '../../contract/apps.schemas.js';

/**
 * The EventStore port: the one small interface every event store adapter implements and
 * the contract suite (test/contract/event-store.contract.ts) holds them to.
 */

/** What a domain hands to the store. `type` is a stable persisted name, never a class name. */
export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  /**
   * A UUID the store keeps with the event, so that an append sent again with the same ids at the
   * same expected version is stored once (EventStoreDB's idempotency rule): what lets a writer
   * retry after a timeout or a lost connection without writing twice. Random when not given;
   * SQLite, whose appends are atomic, does not need it.
   */
  id?: string;
}

export interface EventMetadata {
  /** Present on every event that belongs to an app, so one app's history reads without scanning others. */
  appId?: string;
  /** User id of whoever caused the event (`system` for the installation itself). */
  actor: string;
  /** ISO-8601 UTC time the event happened. Restores keep the original. */
  timestamp: string;
  /** Version of the event's data shape, so upcasters can tell old payloads apart. */
  schemaVersion: number;
}

export interface StoredEvent extends NewEvent {
  stream: string;
  /** 0-based revision of the event inside its stream. */
  streamVersion: number;
  /** Position in the store's global order; strictly increasing, not necessarily contiguous. */
  position: number;
}

/** `-1` means the stream must not exist yet; `'any'` skips the check. */
export type ExpectedVersion = number | 'any';

export interface AppendResult {
  /** Revision of the last event written (the stream's new version). */
  streamVersion: number;
  /** Global position of the last event written. */
  position: number;
}

export interface StreamWrite {
  stream: string;
  events: NewEvent[];
  expectedVersion: ExpectedVersion;
}

export interface ReadRange {
  /**
   * Exclusive lower bound on the global position (0 = from the beginning): 0 or a position this
   * store returned (EventStoreDB refuses to read from inside a record).
   */
  after?: number;
  /** Inclusive upper bound on the global position. */
  until?: number;
  /** Maximum number of events per batch the adapter fetches; an implementation detail for memory. */
  batchSize?: number;
}

/** An app event with its number in the app's history (1, 2, 3… in the order the app's events happened). */
export interface NumberedEvent extends StoredEvent {
  number: number;
}

/**
 * Where a page of an app's history starts: after the app's event numbered `number`. `position`,
 * that event's position (the last of the previous page), lets stores without a per-app number
 * index (EventStoreDB) start reading there instead of counting from the app's first event.
 */
export interface HistoryCursor {
  number: number;
  position?: number;
}

/**
 * A history cursor whose position is not that of the app's event with its number: made up, cut,
 * or taken from another app or another installation's store.
 */
export class InvalidCursorError extends Error {
  constructor(cursor: HistoryCursor) {
    super(`The cursor ${cursor.number}.${cursor.position ?? ''} does not point at an event of this app's history; ${CURSOR_FORM}`);
    this.name = 'InvalidCursorError';
  }
}

export type SubscriptionHandler = (events: StoredEvent[], through: number) => Promise<void>;

export interface SubscribeOptions {
  /** Apps whose events the subscriber does not want (it is told how far they reach through `through`). */
  skip?: (appId: string) => boolean;
}

export interface Subscription {
  close(): Promise<void>;
}

/**
 * The store did not answer for certain (a deadline passed, the connection dropped, the node stopped
 * being the leader): the write may or may not be stored. Sending it again with the same event ids
 * and expected versions is safe (see NewEvent.id).
 */
export class UncertainWriteError extends Error {
  constructor(
    message: string,
    override readonly cause: Error,
  ) {
    super(message);
    this.name = 'UncertainWriteError';
  }
}

/** One event larger than the store takes in one append: the write is refused whole, nothing stored. */
export class EventTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventTooLargeError';
  }
}

const storedBefore = new WeakMap<object, number>();

/**
 * How many of an appendMany's writes were stored, in order, before it failed with `error`: always 0
 * where appendMany is all or nothing (SQLite); on EventStoreDB, which writes stream by stream, the
 * writes before the failing one. The failing one may be stored too when the error is an
 * UncertainWriteError.
 */
export function writesStoredBefore(error: unknown): number {
  return typeof error === 'object' && error !== null ? (storedBefore.get(error) ?? 0) : 0;
}

/** Records on an appendMany's error how many of its writes were stored before it; returns the error. */
export function markWritesStoredBefore<E extends Error>(error: E, count: number): E {
  storedBefore.set(error, count);
  return error;
}

export class WrongExpectedVersionError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Stream ${stream} is at version ${actual}, expected ${expected}`);
    this.name = 'WrongExpectedVersionError';
  }
}

export interface EventStore {
  readonly kind: 'sqlite' | 'eventstoredb';

  /** Appends atomically; throws WrongExpectedVersionError on a concurrency conflict. */
  append(stream: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult>;

  /**
   * Appends to several streams in the given order, for bulk writers (restores, rollbacks). On
   * SQLite it is all or nothing; on EventStoreDB the streams are written one by one, so a failure
   * can leave the earlier ones written: the error then says how many (writesStoredBefore), and
   * sending the rest again with the same event ids is safe. Returns the position of the last event
   * written.
   */
  appendMany(writes: StreamWrite[]): Promise<{ position: number }>;

  /** Current revision of a stream, -1 when it does not exist. */
  streamVersion(stream: string): Promise<number>;

  /** Events of one stream, in order. */
  readStream(stream: string, fromVersion?: number): AsyncIterable<StoredEvent>;

  /** One app's events (every stream carrying its app id) in global order, within the range. */
  readApp(appId: string, range?: ReadRange): AsyncIterable<StoredEvent>;

  /**
   * One page of an app's history: the events numbered `after.number + 1` onwards, at most `limit`.
   * Numbers count the app's events from 1 in the order they happened. What a page costs does not
   * depend on how deep in the history it lies: SQLite stores the number at append time, indexed;
   * EventStoreDB reads from the cursor's position (a page reached without one is counted to).
   * A cursor with a position (0 = none) that is not the position of the app's event numbered
   * `number` is refused with InvalidCursorError, never read from.
   */
  readAppPage(appId: string, after: HistoryCursor, limit: number): Promise<NumberedEvent[]>;

  /**
   * How many events lie after `position`, counting at most `limit` (the answer is then `limit`):
   * projection lag in events, whatever the store's positions measure.
   */
  countAfter(position: number, limit: number): Promise<number>;

  /** How many of an app's events lie at or before `until` (a position): a backup's exact total. */
  countApp(appId: string, until: number): Promise<number>;

  /** Every event after a checkpoint, in global order (projections catch up with this). */
  readAll(range?: ReadRange): AsyncIterable<StoredEvent>;

  /**
   * Delivers every event after `after`, then follows new ones as they are appended, in order and
   * in batches of what has arrived (at most a few hundred events each); the next batch waits until
   * the handler's promise settles. `through` is the position the batch covers: events of apps
   * `options.skip` names are left out (not even parsed, where the store allows), so a batch may be
   * empty and still move on. A handler that throws stops the subscription and reports through onError.
   */
  subscribe(after: number, handler: SubscriptionHandler, onError: (error: Error) => void, options?: SubscribeOptions): Subscription;

  /** Position of the newest event in the store (0 when empty). */
  headPosition(): Promise<number>;

  /** Removes every stream of an app. Used to clean up after a failed restore; never for normal deletes. */
  deleteApp(appId: string): Promise<void>;

  /** Removes one stream (a user a failed restore created). Never for normal deletes. */
  deleteStream(stream: string): Promise<void>;

  /**
   * Background upkeep the store needs, run by one process of the installation at a time
   * (EventStoreDB: the per-app index its whole-app reads use). Runs until `stop` aborts or the
   * store closes; throws if the work fails (the caller starts it again). Absent where none is needed.
   */
  maintain?(stop: AbortSignal): Promise<void>;

  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EVENT_STORE');

export type ChildKind = 'schema' | 'content' | 'asset';

/**
 * Whether a stream is named as AppVault names its streams (below, and `system-purges`): a store
 * shared with other software may hold streams that are not, whose events AppVault leaves alone.
 */
export function isAppVaultStream(stream: string): boolean {
  return /^(?:app|user|schema|content|asset|system)-./.test(stream);
}

/** Stream names; ids never contain `--`, so `{kind}-{appId}--{id}` splits unambiguously. */
export const streams = {
  app: (appId: string) => `app-${appId}`,
  user: (userId: string) => `user-${userId}`,
  child: (kind: string, appId: string, id: string) => `${kind}-${appId}--${id}`,
  /** The app a stream belongs to (`app-{appId}` or `{kind}-{appId}--{id}`); undefined for any other stream. */
  appOf: (stream: string): string | undefined => {
    if (stream.startsWith('app-')) return stream.length > 4 && !stream.includes('--') ? stream.slice(4) : undefined;
    const match = /^(?:schema|content|asset)-(.+?)--./.exec(stream);
    return match?.[1];
  },
  /** The entity id of a `{kind}-{appId}--{id}` stream; undefined for a stream of another kind. */
  childId: (kind: string, stream: string): string | undefined => {
    if (!stream.startsWith(`${kind}-`)) return undefined;
    const at = stream.indexOf('--');
    return at < 0 ? undefined : stream.slice(at + 2);
  },
};
