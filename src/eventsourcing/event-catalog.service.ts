import { Injectable } from '@nestjs/common';
import type { StoredEvent } from '../infrastructure/event-store/event-store.port.js';
import type { DomainEvent } from './decider.js';
import { quoted } from '../platform/text/control-characters.js';
import { describeIssues, type EventDefinition, type StreamDefinition, type StreamKind } from './event-catalog.js';

/** An event whose type or data does not match the catalog; the message names the type and the field. */
export class EventRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRejectedError';
  }
}

/**
 * The registry the domain modules fill at start (see event-catalog.ts): what the event writer
 * validates against, what reads upcast through, and what a restore checks archived events with.
 */
@Injectable()
export class EventCatalog {
  private readonly byType = new Map<string, { definition: EventDefinition; stream: StreamDefinition }>();
  private readonly byKind = new Map<string, StreamDefinition>();

  register<S, E extends DomainEvent>(stream: StreamDefinition<S, E>): void {
    const definition = stream as unknown as StreamDefinition;
    if (this.byKind.has(definition.kind)) throw new Error(`Stream kind ${definition.kind} is registered twice`);
    this.byKind.set(definition.kind, definition);
    for (const event of definition.events) {
      if (this.byType.has(event.type)) throw new Error(`Event type ${event.type} is registered twice`);
      this.byType.set(event.type, { definition: event, stream: definition });
    }
  }

  stream(kind: StreamKind): StreamDefinition {
    const stream = this.byKind.get(kind);
    if (!stream) throw new Error(`No stream kind ${kind} is registered`);
    return stream;
  }

  /** Every registered kind, in the order the modules registered them. */
  get streams(): readonly StreamDefinition[] {
    return [...this.byKind.values()];
  }

  /** The kind a stream's name starts with (`content-…`), if a module registered it. */
  kindOf(stream: string): StreamDefinition | undefined {
    const dash = stream.indexOf('-');
    return dash > 0 ? this.byKind.get(stream.slice(0, dash)) : undefined;
  }

  /** The kind an event type belongs to. */
  streamOfType(type: string): StreamDefinition {
    return this.entry(type).stream;
  }

  /**
   * The kinds rollbacks bring back, each after the kinds its `after` names (a content's schema
   * first), otherwise in the order registered.
   */
  rollbackOrder(): StreamDefinition[] {
    const ordered: StreamDefinition[] = [];
    const visit = (definition: StreamDefinition, path: readonly string[]) => {
      if (ordered.includes(definition) || !definition.rollback) return;
      if (path.includes(definition.kind)) throw new Error(`Rollback order loops: ${[...path, definition.kind].join(' → ')}`);
      for (const kind of definition.rollback.after ?? []) visit(this.stream(kind), [...path, definition.kind]);
      ordered.push(definition);
    };
    for (const definition of this.byKind.values()) visit(definition, []);
    return ordered;
  }

  /** The current version of a type's data; what appends write into the metadata. */
  versionOf(type: string): number {
    return this.entry(type).definition.version;
  }

  /** For appends: the data must match its schema, or the domain has a bug (no client input gets this far unchecked). */
  prepare(event: DomainEvent): DomainEvent {
    const { definition } = this.entry(event.type);
    const parsed = definition.schema.safeParse(event.data);
    if (!parsed.success) throw new EventRejectedError(`A ${event.type} event was about to be written with invalid data (${describeIssues(parsed.error)})`);
    return event;
  }

  /** For reads: the event as the current version of its type describes it. */
  upcast<T extends Pick<StoredEvent, 'type' | 'data' | 'metadata'>>(event: T): T {
    const { definition } = this.entry(event.type);
    const from = event.metadata.schemaVersion;
    if (from === definition.version) return event;
    return { ...event, data: this.upcastData(definition, from, event.data), metadata: { ...event.metadata, schemaVersion: definition.version } };
  }

  /**
   * For events from outside (archives): the event of a known type that belongs in this kind of
   * stream, upcast to the current version and matching its schema; otherwise a problem naming the
   * type and the field.
   */
  accept(kind: StreamKind, type: string, version: number, data: unknown): { event: DomainEvent } | { problem: string } {
    const entry = this.byType.get(type);
    if (!entry) return { problem: `${quoted(type, 60)} is not an event type this installation knows` };
    if (entry.stream.kind !== kind) return { problem: `${type} does not belong in a ${kind} stream (it belongs in ${entry.stream.kind} streams)` };
    if (!Number.isSafeInteger(version) || version < 1) return { problem: `${type} has schema version ${version}; versions count from 1` };
    if (version > entry.definition.version) {
      return { problem: `${type} is at schema version ${version}, but this installation knows versions up to ${entry.definition.version}; restore it on a newer AppVault` };
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return { problem: `${type}: data must be an object` };
    let upcast: Record<string, unknown>;
    try {
      upcast = this.upcastData(entry.definition, version, data as Record<string, unknown>);
    } catch (error) {
      return { problem: `${type} could not be read as version ${entry.definition.version}: ${(error as Error).message}` };
    }
    const parsed = entry.definition.schema.safeParse(upcast);
    if (!parsed.success) return { problem: `${type}: ${describeIssues(parsed.error)}` };
    return { event: { type, data: parsed.data } };
  }

  /**
   * An archived event that `accept` let through earlier (a restore checks every event once before
   * it writes anything), upcast again without checking it twice.
   */
  accepted(type: string, version: number, data: Record<string, unknown>): DomainEvent {
    return { type, data: this.upcastData(this.entry(type).definition, version, data) };
  }

  private upcastData(definition: EventDefinition, from: number, data: Record<string, unknown>): Record<string, unknown> {
    let current = data;
    for (let version = from; version < definition.version; version++) current = definition.upcasters[version]!(current);
    return current;
  }

  private entry(type: string): { definition: EventDefinition; stream: StreamDefinition } {
    const entry = this.byType.get(type);
    if (!entry) throw new EventRejectedError(`Unknown event type ${JSON.stringify(type)}: no module declares it`);
    return entry;
  }
}
