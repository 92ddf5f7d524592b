import { expect } from 'vitest';
import { type Decider, type DomainCommand, type DomainEvent, fold } from '../../src/eventsourcing/decider.js';
import { DomainError, type DomainErrorKind } from '../../src/platform/domain-errors.js';

/** Then: the outcome of a decision (or of a question to the state) is this value, or this kind of error. */
function outcome<T>(run: () => T) {
  return {
    then: (expected: T) => expect(run()).toEqual(expected),
    thenThrows: (kind: DomainErrorKind, message?: string | RegExp) => {
      let caught: unknown;
      try {
        run();
      } catch (error) {
        caught = error;
      }
      expect(caught, 'the decision should have failed').toBeInstanceOf(DomainError);
      expect((caught as DomainError).kind).toBe(kind);
      if (message) expect((caught as DomainError).message).toMatch(message);
    },
  };
}

/**
 * Given/when/then for deciders: given past events, when a command is decided on the folded state,
 * then it yields these events or fails with this kind of error. `ask` puts a question to the folded
 * state instead (what a module asks before it decides, like the next file version of an asset).
 */
export function spec<S, C extends DomainCommand, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return {
    given: (events: E[]) => ({
      when: (command: C) => outcome(() => decider.decide(command, fold(decider, events))),
      ask: <T>(question: (state: S) => T) => outcome(() => question(fold(decider, events))),
    }),
  };
}
