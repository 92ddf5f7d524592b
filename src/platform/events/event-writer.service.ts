import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../domain-errors.js';
import type { Decider, DomainEvent } from './decider.js';
import {
  EVENT_STORE,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  WrongExpectedVersionError,
} from '../../infrastructure/event-store/event-store.port.js';
import { Projector } from '../projection/projector.service.js';

export interface Loaded<S> {
  state: S;
  /** Stream revision, -1 when the stream does not exist. */
  version: number;
}

export interface WriteContext {
  actor: string;
  appId?: string;
  /** Restores pass the original time; everything else happens now. */
  timestamp?: string;
}

/** Current shape version of every event payload; bump per type when a payload changes. */
export const EVENT_SCHEMA_VERSION = 1;

/**
 * Loads aggregates from their streams and appends their decisions with optimistic concurrency.
 * After an append it waits for the projector to reach the new position, so the answer a command
 * gives and any read that follows it see the change (read-your-writes).
 */
@Injectable()
export class EventWriter {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projector: Projector,
  ) {}

  async load<S, E extends DomainEvent>(stream: string, decider: Decider<S, E>): Promise<Loaded<S>> {
    let state = decider.initialState();
    let version = -1;
    for await (const event of this.store.readStream(stream)) {
      state = decider.evolve(state, { type: event.type, data: event.data } as E);
      version = event.streamVersion;
    }
    return { state, version };
  }

  async append(stream: string, events: DomainEvent[], expectedVersion: ExpectedVersion, context: WriteContext): Promise<{ version: number; position: number }> {
    const timestamp = context.timestamp ?? new Date().toISOString();
    const toStore: NewEvent[] = events.map((event) => ({
      type: event.type,
      data: event.data as Record<string, unknown>,
      metadata: {
        ...(context.appId ? { appId: context.appId } : {}),
        actor: context.actor,
        timestamp,
        schemaVersion: EVENT_SCHEMA_VERSION,
      },
    }));
    try {
      const result = await this.store.append(stream, toStore, expectedVersion);
      await this.projector.waitFor(result.position);
      return { version: result.streamVersion, position: result.position };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        throw new DomainError('conflict', `The resource was changed by someone else (it is at version ${error.actual}, expected ${String(error.expected)}); reload it and try again`);
      }
      throw error;
    }
  }
}
