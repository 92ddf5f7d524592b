/**
 * Aggregates are deciders: pure `decide(command, state) → events` and `evolve(state, event) → state`.
 * Pure functions keep the rules testable as given/when/then without a store or Nest; the one cycle
 * that loads, decides and appends is StreamCommandHandler's.
 */
export interface DomainEvent<T extends string = string, D extends object = Record<string, unknown>> {
  type: T;
  data: D;
}

/** What a decider is asked to do: a stable name and its data, everything the rules need already resolved. */
export interface DomainCommand<T extends string = string, D extends object = Record<string, unknown>> {
  type: T;
  data: D;
}

/** The data of one command of a union, by its type: what the rule for that command takes. */
export type CommandData<C extends DomainCommand, T extends C['type']> = Extract<C, { type: T }>['data'];

/** Folds a stream's events into its state: all that reading a stream (or checking an archived event) needs. */
export interface StateFold<S, E extends DomainEvent> {
  initialState: () => S;
  evolve: (state: S, event: E) => S;
}

/** A module's rules: the events its commands yield on a state, and how those events change it. */
export interface Decider<S, C extends DomainCommand, E extends DomainEvent> extends StateFold<S, E> {
  /** Throws a DomainError when the rules refuse the command; no events means nothing changes. */
  decide: (command: C, state: S) => E[];
}

export function fold<S, E extends DomainEvent>(decider: StateFold<S, E>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
