import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import type { DomainEvent } from '../eventsourcing/decider.js';
import { type CheckContext, ENTITY_ID, ENTITY_ID_MAX, type StreamDefinition, type StreamKind } from '../eventsourcing/event-catalog.js';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { excerpt, quoted } from '../platform/text/control-characters.js';
import type { ArchivedEvent } from './archive-format.js';
import { InvalidArchiveError } from './archive-reader.js';

/**
 * Stream states kept in memory, most recently used last. A state that falls out is folded again
 * from what the restore has appended already; the cache is many times larger than an append batch,
 * so no stream with events still waiting to be appended ever falls out.
 */
const STATE_CACHE = 5000;

interface Tracked {
  state: unknown;
  /** The stream's last version, -1 before its first event. */
  version: number;
}

/** Where an archived event belongs: the kind of its stream (one of an app's: StreamPlace app or entity) and the entity's id. */
export interface Placed {
  kind: StreamKind;
  definition: StreamDefinition;
  entityId: string;
}

/** What the validator reads: the target app's streams as appended so far. */
export type StreamReader = (stream: string) => AsyncIterable<StoredEvent>;

/**
 * Checks every archived event as if a command of this installation had written it: its type and
 * data against the event catalog (after upcasting), its place in its stream (versions 0, 1, 2…),
 * the rules of its domain against the stream's state at that point, and the users it names. The
 * state comes from the domain's own decider, folded as events go by; memory stays bounded (see
 * STATE_CACHE), whatever the archive's size.
 */
export class RestoreValidator {
  private readonly states = new Map<string, Tracked>();
  private readonly names = new Map<string, Set<string>>();
  /** The archived app's stream names by kind, without the entity id: `app-{appId}`, `content-{appId}` (then `--{id}`). */
  private readonly sourcePrefixes: ReadonlyMap<string, string>;
  private target?: { appId: string; knownUsers: ReadonlySet<string>; prefixes: ReadonlyMap<string, string> };

  constructor(
    private readonly catalog: EventCatalog,
    private readonly read: StreamReader,
    private readonly sourceAppId: string,
  ) {
    this.sourcePrefixes = this.prefixesOf(sourceAppId);
  }

  /**
   * What `follow` needs: the new app's id and the ids of this installation's users the archive's
   * users map to. `place` and `accept` work without it, on the archive alone.
   */
  forTarget(appId: string, knownUsers: ReadonlySet<string>): this {
    this.target = { appId, knownUsers, prefixes: this.prefixesOf(appId) };
    return this;
  }

  /**
   * The names the events claimed so far (live schema names, by scope): the one state of the checks
   * that is not folded again from the appended streams, so a restore's journal keeps it.
   */
  claimedNames(): Record<string, string[]> {
    return Object.fromEntries([...this.names].map(([scope, names]) => [scope, [...names]]));
  }

  /** A resumed restore's claimed names, as its journal kept them (see claimedNames). */
  restoreClaimedNames(claimed: Record<string, string[]>): void {
    this.names.clear();
    for (const [scope, names] of Object.entries(claimed)) this.names.set(scope, new Set(names));
  }

  /** The stream in the target app of an event that `place` placed. */
  targetStream(placed: Placed): string {
    if (!this.target) throw new Error('forTarget() first');
    const prefix = this.target.prefixes.get(placed.kind)!;
    return placed.definition.place === 'app' ? prefix : `${prefix}--${placed.entityId}`;
  }

  /** The kind and entity id of an archived event's stream, which must be one of the archived app's streams. */
  place(archived: ArchivedEvent): Placed {
    const definition = this.catalog.kindOf(archived.stream);
    const prefix = definition && this.sourcePrefixes.get(definition.kind);
    if (definition && prefix && definition.place === 'app' && archived.stream === prefix) return { kind: definition.kind, definition, entityId: this.sourceAppId };
    if (!definition || !prefix || definition.place !== 'entity' || archived.stream.length <= prefix.length + 2 || !archived.stream.startsWith(`${prefix}--`)) {
      throw this.refuse(archived, `its stream ${excerpt(archived.stream, 120)} is not a stream of app ${excerpt(this.sourceAppId, 100)}`);
    }
    const entityId = archived.stream.slice(prefix.length + 2);
    if (entityId.length > ENTITY_ID_MAX || !ENTITY_ID.test(entityId)) throw this.refuse(archived, `its stream names the id ${quoted(entityId, 80)}, which is not a valid id (letters, digits and single dashes)`);
    return { kind: definition.kind, definition, entityId };
  }

  /** The event, upcast to the current version of its type, if its type and data pass the catalog. */
  accept(archived: ArchivedEvent, placed: Placed): DomainEvent {
    const accepted = this.catalog.accept(placed.kind, archived.type, archived.schemaVersion, archived.data);
    if ('problem' in accepted) throw this.refuse(archived, accepted.problem);
    return accepted.event;
  }

  /** The event as `accept` let it through during the scan, upcast again (not checked twice). */
  current(archived: ArchivedEvent): DomainEvent {
    return this.catalog.accepted(archived.type, archived.schemaVersion, archived.data);
  }

  /**
   * Checks an event, already rewritten for the new app, against its stream: the version must come
   * next, and the domain's rules must let it follow the state. Then the state moves on.
   */
  async follow(archived: ArchivedEvent, placed: Placed, event: DomainEvent, targetStream: string): Promise<void> {
    const { definition } = placed;
    const tracked = await this.tracked(targetStream, definition);
    if (archived.streamVersion !== tracked.version + 1) {
      throw this.refuse(
        archived,
        tracked.version < 0
          ? `it is at version ${archived.streamVersion} of a stream that has no earlier event; streams start at version 0`
          : `it is at version ${archived.streamVersion}, but the stream's previous event is at version ${tracked.version}; versions run 0, 1, 2… without gaps`,
      );
    }
    const problem = await definition.check(tracked.state, event, this.context(placed.entityId));
    if (problem) throw this.refuse(archived, problem);
    tracked.state = definition.decider.evolve(tracked.state, event);
    tracked.version = archived.streamVersion;
  }

  /** The message names the event by number, type and stream, each shown escaped and cut short (they come from the archive). */
  refuse(archived: ArchivedEvent, problem: string): InvalidArchiveError {
    return new InvalidArchiveError(`Event ${archived.number} (${excerpt(String(archived.type), 60)} in ${excerpt(archived.stream, 120)}) is refused: ${problem}`);
  }

  private context(entityId: string): CheckContext {
    return {
      entityId,
      stateOf: async <S>(kind: StreamKind, id: string): Promise<S> => {
        const definition = this.catalog.stream(kind);
        return (await this.tracked(this.targetStream({ kind, definition, entityId: id }), definition)).state as S;
      },
      knowsUser: (userId) => this.target?.knownUsers.has(userId) ?? false,
      claimName: (scope, name) => {
        const taken = this.names.get(scope) ?? new Set<string>();
        this.names.set(scope, taken);
        if (taken.has(name)) return false;
        taken.add(name);
        return true;
      },
      releaseName: (scope, name) => void this.names.get(scope)?.delete(name),
    };
  }

  private async tracked(stream: string, definition: StreamDefinition): Promise<Tracked> {
    let tracked = this.states.get(stream);
    if (tracked) {
      // Most recently used goes last (a Map keeps insertion order).
      this.states.delete(stream);
    } else {
      tracked = { state: definition.decider.initialState(), version: -1 };
      for await (const stored of this.read(stream)) {
        const event = this.catalog.upcast(stored);
        tracked.state = definition.decider.evolve(tracked.state, { type: event.type, data: event.data });
        tracked.version = stored.streamVersion;
      }
    }
    this.states.set(stream, tracked);
    if (this.states.size > STATE_CACHE) this.states.delete(this.states.keys().next().value!);
    return tracked;
  }

  /** Every kind of an app's streams, by the name its streams start with in app `appId`. */
  private prefixesOf(appId: string): Map<string, string> {
    return new Map(this.catalog.streams.filter((definition) => definition.place !== 'installation').map((definition) => [definition.kind, `${definition.kind}-${appId}`]));
  }
}
