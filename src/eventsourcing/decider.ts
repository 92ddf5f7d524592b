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

/** Decides with one rule per command type, each given the state and its command's data. */
export type DecisionRules<S, C extends DomainCommand, E extends DomainEvent> = { [T in C['type']]: (state: S, data: CommandData<C, T>) => E[] };

/** A decide function from a table of rules: the table names the rule for each command, and the compiler checks none is missing. */
export function decideBy<S, C extends DomainCommand, E extends DomainEvent>(rules: DecisionRules<S, C, E>): Decider<S, C, E>['decide'] {
  // Each command reaches the rule its own type names, so its data is the data that rule takes.
  return (command, state) => (rules[command.type as C['type']] as (state: S, data: C['data']) => E[])(state, command.data);
}

export function fold<S, E extends DomainEvent>(decider: StateFold<S, E>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
