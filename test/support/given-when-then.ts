import { expect } from 'vitest';
import { type Decider, type DomainEvent, fold } from '../../src/eventsourcing/decider.js';
import { DomainError, type DomainErrorKind } from '../../src/platform/domain-errors.js';

/**
 * Given/when/then for deciders: given past events, when a decision runs on the folded state,
 * then it yields these events or fails with this kind of error.
 */
export function spec<S, E extends DomainEvent>(decider: Decider<S, E>) {
  return {
    given: (events: E[]) => ({
      when: (decide: (state: S) => E[]) => ({
        then: (expected: E[]) => expect(decide(fold(decider, events))).toEqual(expected),
        thenThrows: (kind: DomainErrorKind, message?: string | RegExp) => {
          let caught: unknown;
          try {
            decide(fold(decider, events));
          } catch (error) {
            caught = error;
          }
          expect(caught, 'the decision should have failed').toBeInstanceOf(DomainError);
          expect((caught as DomainError).kind).toBe(kind);
          if (message) expect((caught as DomainError).message).toMatch(message);
        },
      }),
    }),
  };
}
