import type { ScratchKeys } from './scratch-keys.js';
import type { Readable } from 'node:stream';
import type { DomainEvent } from '../eventsourcing/decider.js';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import type { ArchivedEvent } from './archive-format.js';
import type { BackupSelection, StreamSelection } from './archive-selection.js';

/**
 * The extension point of backups and restores: each domain module offers one participant, and the
 * core (which streams events and knows no domain) runs it. What can be said of an event without
 * I/O is a fact on its stream definition in the event catalog (the users it names, the archive
 * entries it needs, how an entity is rolled back); a participant holds only the I/O: per run it
 * begins a session, whose state lives as long as the run. Every hook is optional, and
 * participants run in the order they registered.
 */
export interface ArchiveParticipant {
  readonly name: string;
  /**
   * Partial backups, when the request is made: what the selection names that the app lacks, one
   * message per problem, each naming its field (`include.schemas: …`); the request is then a 400.
   */
  checkSelection?(appId: string, selection: BackupSelection): Promise<string[]>;
  /** A backup begins. */
  backup?(context: BackupContext): BackupSession;
  /**
   * A restore begins, or its rehearsal (a dry run, `appvault archive verify`): read what the module
   * needs from the archive (users.json). Everything a restore writes goes through `context.sink`,
   * so a rehearsal writes nothing.
   */
  restore?(context: RestoreContext): RestoreSession | Promise<RestoreSession>;
  /** The restore failed (or its process died): remove what this module wrote for the target app. */
  cleanup?(context: CleanupContext): Promise<void>;
}

/** What a rehearsal needs of a participant: its restore side, which uses nothing of the installation. */
export type RestoreParticipant = Pick<ArchiveParticipant, 'name' | 'restore'>;

export interface BackupSession {
  /**
   * Partial backups, first pass over the app's history, each event in order: keep the streams of
   * what this module owns that belong to the selection, and note what kept events refer to.
   */
  select?(event: ArchivedEvent, selection: StreamSelection): void;
  /** Each batch of events right after it is written, in order: add the entries they need (files). */
  written?(events: readonly ArchivedEvent[]): Promise<void>;
  /** After the last event: add what the whole history decides (users.json). */
  complete?(): Promise<void>;
}

export interface RestoreSession {
  /**
   * Each event, rewritten for the target app already (stream, app id, actor, and the users its
   * stream's facts name): the event to append, mapped further if need be. Work the event needs
   * before it is appended (storing its file) goes to `context.defer`. Synchronous unless it waits.
   */
  mapEvent?(event: ArchivedEvent): ArchivedEvent | Promise<ArchivedEvent>;
  /**
   * A restore that resumes after an interruption: folds again, from what its first run appended,
   * the state its `mapEvent` keeps (`appended` reads one stream of the new app). Never rehearsed.
   */
  resume?(appended: (stream: string) => AsyncIterable<StoredEvent>): Promise<void>;
  /** After the last event, reading only: log what the events leave unresolved. Rehearsals run it too. */
  summarize?(): void | Promise<void>;
  /** After every event is appended and projected: what the module adds to the new app. Never rehearsed. */
  complete?(): Promise<void>;
}

export interface BackupContext {
  readonly appId: string;
  /** What a partial backup holds; null for the whole app. */
  readonly selection: BackupSelection | null;
  /**
   * Adds one entry to the archive. `open` is called when the writer gets to the entry, so no file
   * is held open while it waits; the promise resolves once the entry is queued, and the writer
   * keeps only a few queued, so entries never pile up in memory. `compress: false` for data that
   * is already compressed.
   */
  addEntry(name: string, open: () => Promise<Readable>, options: { compress: boolean; size?: number }): Promise<void>;
  /** Every user the written events name: their actors and the users their streams' facts name. */
  readonly mentionedUsers: ReadonlySet<string>;
  /** The backup holds the credentials its users need to stay signed in (an admin's encrypted backup only). */
  readonly credentials: boolean;
  /** Something is wrong but the backup can go on: reported in the job's warnings and the manifest. */
  warn(message: string): void;
  /** An entry the events call for could not be added (listed in the manifest's `missing`). */
  missing(name: string, reason: string): void;
  /** The manifest's counts; participants fill in what they own. */
  readonly counts: { assets: number; users: number };
}

export interface RestoreContext {
  readonly sourceAppId: string;
  readonly targetAppId: string;
  readonly targetName: string;
  /** The admin running the restore. */
  readonly actor: string;
  /** The archive came encrypted (age) and was opened with a key: only such an archive's credentials are used. */
  readonly encrypted: boolean;
  /** Opens an entry of the archive (already checked against the manifest). */
  openEntry(name: string): Promise<Readable>;
  hasEntry(name: string): boolean;
  /** users.json's user `sourceUserId` is `targetUserId` here: every event naming it is mapped. */
  setUserMapping(sourceUserId: string, targetUserId: string): void;
  log(message: string): void;
  /** The counts the restore reports; participants fill in what they own. */
  readonly counts: { assets: number };
  /**
   * Where a participant keeps what it follows for every stream or entity across the events (a
   * scratch file the restore removes when it ends, not the heap: at 1M events that is hundreds of
   * thousands of keys). Each participant names its sets after itself.
   */
  readonly keys: ScratchKeys;
  /** Marks the start of a step of the restore a participant performs (logged; fault injection hooks in here). */
  step(name: string): Promise<void>;
  /**
   * Notes something the participant must undo if the restore fails (a user it creates), persisted
   * with the job before it returns, so a cleanup after a crash finds it too. Note it before doing it.
   */
  remember(key: string, value: string): Promise<void>;
  /**
   * Runs work the event needs done before it is appended (storing its file) alongside the events
   * that follow: the core waits for all of it before it appends the batch that holds the event, and
   * a failure fails the restore. Resolves once the work has started; a few run at a time.
   */
  defer(work: () => Promise<void>): Promise<void>;
  readonly sink: ParticipantSink;
}

/**
 * Where a restore's writes go: the installation (its event store, blob store and users), or a
 * rehearsal that keeps the events in scratch streams, hashes the files and counts the users.
 */
export interface ParticipantSink {
  /**
   * Stores one file's bytes under a blob key, reporting their size and SHA-256. `sha256`: what the
   * bytes must hash to; a resumed restore keeps a file its first run stored already with that hash.
   */
  putFile(key: string, source: Readable, sha256?: string): Promise<{ size: number; sha256: string }>;
  /** Appends what a participant adds once every event is in (as the restore's actor), expecting the stream's version. */
  append(stream: string, events: DomainEvent[], expectedVersion: number): Promise<void>;
  /** The installation's user with this email, if any (an offline rehearsal knows none). */
  findUser(email: string): Promise<{ id: string; email: string } | undefined>;
  /** Creates a user the archive names and the installation lacks, as the restore's actor: without an API key, or with the key hash an encrypted archive's credentials give. */
  createUser(user: { id: string; email: string; displayName: string; keyHash?: string }): Promise<void>;
}

export interface CleanupContext {
  readonly targetAppId: string;
  log(message: string): void;
  /** What the participants noted with RestoreContext.remember under `key`. */
  remembered(key: string): readonly string[];
}

/** The installation's users as a restore maps archived users to them (the users module provides them). */
export interface UserAccounts {
  findByEmail(email: string): Promise<{ id: string; email: string } | undefined>;
  createForRestore(userId: string, email: string, displayName: string, actor: string, keyHash?: string): Promise<unknown>;
}

export const USER_ACCOUNTS = Symbol('USER_ACCOUNTS');

/** The participants of an installation, in the order their modules registered them; the core only iterates. */
export class ArchiveParticipants {
  private readonly participants: ArchiveParticipant[] = [];

  register(participant: ArchiveParticipant): void {
    if (this.participants.some((p) => p.name === participant.name)) throw new Error(`Archive participant ${participant.name} registered twice`);
    this.participants.push(participant);
  }

  get all(): readonly ArchiveParticipant[] {
    return this.participants;
  }
}
