import type { Readable } from 'node:stream';
import type { ChildKind, StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import { SYSTEM_ACTOR } from '../platform/auth/principal.js';
import { InvalidArchiveError } from '../archive/archive-reader.js';
import type { RestoreStep } from './shared/restore-steps.js';
import type { BackupSelection, StreamSelection } from './shared/backup-selection.js';

/**
 * One event as it stands in an archive's `events/NNNNNN.ndjson` files (see docs/backup-format.md).
 * Restores rewrite these before appending them under the new app id.
 */
export interface ArchivedEvent {
  /** 1-based, gapless, in the order the events happened within the app. */
  number: number;
  stream: string;
  /** 0-based revision inside its stream. */
  streamVersion: number;
  type: string;
  timestamp: string;
  actor: string;
  schemaVersion: number;
  data: Record<string, unknown>;
}

/**
 * A user id an event's data names (not its actor), mapped to this installation's: refused when
 * users.json does not list it, as the core refuses unlisted actors.
 */
export function mappedUser(userId: string, archived: ArchivedEvent, context: RestoreContext): string {
  if (userId !== SYSTEM_ACTOR && !context.isArchivedUser(userId)) throw new InvalidArchiveError(`Event ${archived.number} (${archived.type}) names user ${userId.slice(0, 80)}, who is not in users.json`);
  return context.mapUser(userId);
}

export interface BackupContext {
  readonly appId: string;
  /**
   * Adds one entry to the archive. `open` is called when the writer gets to the entry, so no file
   * is held open while it waits; the promise resolves once the entry is queued, and the writer
   * keeps only a few queued, so entries never pile up in memory. `compress: false` for data that
   * is already compressed.
   */
  addEntry(name: string, open: () => Promise<Readable>, options: { compress: boolean; size?: number }): Promise<void>;
  /** Notes a user id the events name (actors are noted by the core); users.json lists them. */
  mentionUser(userId: string): void;
  readonly mentionedUsers: ReadonlySet<string>;
  /** Something is wrong but the backup can go on: reported in the job's warnings and the manifest. */
  warn(message: string): void;
  /** An entry the events call for could not be added (listed in the manifest's `missing`). */
  missing(name: string, reason: string): void;
  /** Counters the manifest and the job report; handlers fill in what they own. */
  readonly counts: { assets: number; users: number };
}

export interface RestoreContext {
  readonly sourceAppId: string;
  readonly targetAppId: string;
  readonly targetName: string;
  /** The admin running the restore. */
  readonly actor: string;
  /** Opens an entry of the archive (already checked against the manifest). */
  openEntry(name: string): Promise<Readable>;
  hasEntry(name: string): boolean;
  /** Maps a user id from the archive to this installation's; unknown ids map to the system actor. */
  mapUser(sourceUserId: string): string;
  setUserMapping(sourceUserId: string, targetUserId: string): void;
  /** True for a user id users.json lists (every user an event names must be there). */
  isArchivedUser(sourceUserId: string): boolean;
  log(message: string): void;
  /** Counters the restore job reports; handlers fill in what they own. */
  readonly counts: { assets: number };
  /** Marks the start of a pipeline step a handler performs (logged; fault injection hooks in here). */
  step(step: RestoreStep): Promise<void>;
  /**
   * Notes something the handler must undo if the restore fails (a user it creates), persisted with
   * the job before it returns, so a cleanup after a crash finds it too. Note it before doing it.
   */
  remember(key: string, value: string): Promise<void>;
  /**
   * Runs work the event needs done before it is appended (restoring its file) alongside the events
   * that follow: the core waits for all of it before it appends the batch that holds the event, and
   * a failure fails the restore. Resolves once the work has started; a few run at a time.
   */
  defer(work: () => Promise<void>): Promise<void>;
}

/** What a rollback asks of a domain module for one entity: see BackupHandler.rollbackEntity. */
export interface RollbackContext {
  readonly appId: string;
  /** The store position the app is brought back to: events at or before it make the target state. */
  readonly targetPosition: number;
  /** Facts one module's steps leave for another's (whether a content's schema comes back), by kind and id. */
  share(key: string, id: string, value: unknown): void;
  shared<T>(key: string, id: string): T | undefined;
}

/** What one entity needs to be as it was: its events (none when it is already), and what that means for a read. */
export interface RollbackStep {
  change: 'created' | 'changed' | 'deleted';
  /** How the report names the entity: a schema's name, a content's or asset's id. */
  label: string;
  events: { type: string; data: Record<string, unknown> }[];
  /**
   * What must follow the append at once, as a command's claim does (a schema name freed or taken
   * again); run in the order of the steps, deletions before revivals.
   */
  afterAppend?: () => Promise<void>;
}

export interface CleanupContext extends Pick<RestoreContext, 'targetAppId' | 'log'> {
  /** What the handlers noted with RestoreContext.remember under `key`. */
  remembered(key: string): readonly string[];
}

/**
 * The extension point: each domain module registers one and adds what it owns to backups and
 * restores. The core streams events and knows nothing of contents, assets or users.
 */
export interface BackupHandler {
  readonly name: string;

  /**
   * Partial backups, when the request is made: what the selection names that the app lacks, one
   * message per problem, each naming its field (`include.schemas: …`); the request is then a 400.
   */
  checkSelection?(appId: string, selection: BackupSelection): Promise<string[]>;
  /**
   * Partial backups, first pass over the app's history in order: keep the streams of what this
   * module owns that belong to the selection, and note what kept events reference.
   */
  selectEvent?(event: ArchivedEvent, selection: StreamSelection): void;
  /** After the first pass: keep what only the whole history decides (the assets kept contents reference). */
  completeSelection?(selection: StreamSelection): void;
  /** Called with each batch of events right after the batch is written, in order. */
  backupEvents?(events: readonly ArchivedEvent[], context: BackupContext): Promise<void>;
  /** Called once after the last event. */
  completeBackup?(context: BackupContext): Promise<void>;

  /** The archive entries an event needs (an asset's file version); restores refuse entries no event names. */
  entriesFor?(event: ArchivedEvent): readonly string[];

  /** Before any event is restored (users map themselves here). */
  prepareRestore?(context: RestoreContext): Promise<void>;
  /**
   * Rewrites one event for the target app (streams, app id and actor are rewritten by the core
   * already) and restores what it owns (files). Returning the event unchanged is fine.
   */
  restoreEvent?(event: ArchivedEvent, context: RestoreContext): Promise<ArchivedEvent>;
  /**
   * After the last event is restored, reading only: log what the events leave unresolved (the
   * references a partial archive leaves dangling). Dry runs and `archive verify` call it too.
   */
  summarizeRestore?(context: RestoreContext): Promise<void>;
  /** After every event is appended and projected: rebuild this module's indices for the target app. */
  completeRestore?(context: RestoreContext): Promise<void>;
  /** The restore failed: remove whatever this handler wrote for the target app. */
  cleanupRestore?(context: CleanupContext): Promise<void>;

  /**
   * Rollbacks: the kind of stream whose entities this module brings back. The core visits kinds in
   * the order schema, content, asset, so a content's step knows what becomes of its schema.
   */
  readonly rollbackKind?: ChildKind;
  /**
   * Rollbacks: the events that bring one entity back to its state as of `context.targetPosition`,
   * given its whole stream (oldest first, upcast); undefined when it is that way already. Throws a
   * DomainError when the entity cannot be brought back (a file version's bytes are gone).
   */
  rollbackEntity?(events: readonly StoredEvent[], context: RollbackContext): Promise<RollbackStep | undefined>;
}
