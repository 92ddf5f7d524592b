/**
 * Aggregates are deciders: pure `decide(state, command) → events` and `evolve(state, event) → state`.
 * Pure functions keep the rules testable as given/when/then without a store or Nest.
 */
export interface DomainEvent<T extends string = string, D extends object = Record<string, unknown>> {
  type: T;
  data: D;
}

export interface Decider<S, E extends DomainEvent> {
  initialState: () => S;
  evolve: (state: S, event: E) => S;
}

export function fold<S, E extends DomainEvent>(decider: Decider<S, E>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
