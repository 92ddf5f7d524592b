import { Inject, type Type } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { Lease } from '../infrastructure/name-index/lease.js';
import { type Claim, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import type { Decider, DomainCommand, DomainEvent } from './decider.js';
import { EventWriter, StreamChangedError } from './event-writer.service.js';

/**
 * A command on the CommandBus: what a client asked of one stream, with `R` the answer. Every
 * module's command classes extend it, so the bus hands all of them to StreamCommandHandler (the bus
 * finds a handler by the command's class or, through reflect-metadata, by a class it extends).
 */
export abstract class StreamCommand<R> extends Command<R> {}

/** The state after a decision, the events it appended (none: nothing changed) and the stream's version. */
export interface Handled<S, E> {
  state: S;
  events: E[];
  version: number;
}

/**
 * What a module tells the generic cycle about one command: the stream, the decider's command and
 * the little that is its own around it. Only `stream`, `actor` and the command are needed.
 */
export type CommandPlan<S, C extends DomainCommand, E extends DomainEvent> = {
  stream: string;
  actor: string;
  /** The app the stream belongs to: its writes may be held (a rollback), and its events carry it. */
  appId?: string;
  /** The stream's id was made just now, so there is nothing to read; the append expects no stream. */
  fresh?: boolean;
  /**
   * A unique name (an app's, a schema's, an email) reserved before the decision, for `owner`, and
   * committed in the same step as the events are stored; released if they are not.
   */
  claim?: { claim: Claim; owner: string };
  /** Runs once the events are stored, before the projections show them (what must follow the append: freeing a name). */
  onAppended?: (state: S) => Promise<void>;
  /**
   * A concurrent write to the stream decides the command again on the stream as it now is, instead
   * of answering 409: for commands that carry no version of their own (If-Match) and whose
   * decision has no side effects.
   */
  retryOnConflict?: boolean;
  /** The command's answer, read once the projections show its events (read-your-writes). */
  answer?: (handled: Handled<S, E>) => Promise<unknown>;
  /** Runs last, whatever happened: gives back what the plan took (an upload's lease) and undoes what a failure left. */
  settle?: (failed: boolean) => Promise<void>;
} & (
  | { command: C }
  /**
   * A pre-step that needs the stream's state and makes the command: an upload stores its bytes
   * under the file version the state says is next, and the command states their size and hash.
   */
  | { prepare: (state: S) => Promise<C> }
);

/** A module's side of its commands: the classes it answers for, its decider, and a plan for each command. */
export interface CommandPlanner<K extends StreamCommand<unknown>, S, C extends DomainCommand, E extends DomainEvent> {
  readonly commands: readonly Type<K>[];
  readonly decider: Decider<S, C, E>;
  plan(command: K): CommandPlan<S, C, E> | Promise<CommandPlan<S, C, E>>;
}

/** A version conflict is decided again at most this many times before it answers 409. */
const CONFLICT_RETRIES = 2;

/**
 * The one command handler. The path of a command, file by file, for creating a content (every
 * module's commands go the same way, through files named alike):
 *
 *   controller     `commands.execute(new CreateContentCommand(…))`     src/contents/contents.http.controller.ts
 *   the command    its class and the module's CommandPlanner: which     src/contents/content.commands.ts
 *                  stream, the decider's command, the module's hooks
 *   this handler   load → decide → append → answer, below                src/eventsourcing/stream-command.handler.ts
 *   the decider    `decide(command, state)`, `evolve`, `initialState`     src/contents/content.aggregate.ts
 *   the append     holds, catalog check, expected version, published     src/eventsourcing/event-writer.service.ts
 *                  on the EventBus, projections waited for
 *   the read model what the answer is read from                          src/contents/contents.projection.ts
 *
 * Load folds the stream with the module's decider (skipped for a fresh id) and decides; the events
 * are appended expecting the version loaded, so a concurrent write fails the append (decided again
 * where the plan allows, else 409); an If-Match is the decider's to check against that version.
 * Modules register their planners in their onModuleInit.
 */
@CommandHandler(StreamCommand)
export class StreamCommandHandler implements ICommandHandler<StreamCommand<unknown>> {
  private readonly planners = new Map<Type<StreamCommand<unknown>>, (command: StreamCommand<unknown>) => Promise<unknown>>();

  constructor(
    private readonly writer: EventWriter,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  register<K extends StreamCommand<unknown>, S, C extends DomainCommand, E extends DomainEvent>(planner: CommandPlanner<K, S, C, E>): void {
    const handle = async (command: K) => this.run(planner.decider, await planner.plan(command));
    // The map is keyed by the command's class, so a command only ever reaches the planner of its own class.
    for (const type of planner.commands) this.planners.set(type, handle as (command: StreamCommand<unknown>) => Promise<unknown>);
  }

  execute(command: StreamCommand<unknown>): Promise<unknown> {
    const handle = this.planners.get(command.constructor as Type<StreamCommand<unknown>>);
    if (!handle) return Promise.reject(new Error(`No module plans ${command.constructor.name}; its module registers a CommandPlanner with StreamCommandHandler`));
    return handle(command);
  }

  private async run<S, C extends DomainCommand, E extends DomainEvent>(decider: Decider<S, C, E>, plan: CommandPlan<S, C, E>): Promise<unknown> {
    let failed = true;
    let claim: Lease | undefined;
    try {
      if (plan.claim) claim = await Lease.acquire(this.names, plan.claim.claim, { ttlMs: this.config.nameReservationTtlMs, holder: plan.claim.owner });
      const handled = await this.decideAndAppend(decider, plan, claim);
      const answer = plan.answer ? await plan.answer(handled) : undefined;
      failed = false;
      return answer;
    } finally {
      if (claim) await claim.release();
      if (plan.settle) await plan.settle(failed);
    }
  }

  private async decideAndAppend<S, C extends DomainCommand, E extends DomainEvent>(decider: Decider<S, C, E>, plan: CommandPlan<S, C, E>, claim: Lease | undefined): Promise<Handled<S, E>> {
    for (let retries = plan.retryOnConflict ? CONFLICT_RETRIES : 0; ; retries--) {
      const loaded = plan.fresh ? { state: decider.initialState(), version: -1 } : await this.writer.load(plan.stream, decider);
      const command = 'command' in plan ? plan.command : await plan.prepare(loaded.state);
      const events = decider.decide(command, loaded.state);
      if (events.length === 0) return { ...loaded, events };
      const state = events.reduce(decider.evolve, loaded.state);
      try {
        const { version } = await this.writer.append(plan.stream, events, loaded.version, {
          actor: plan.actor,
          appId: plan.appId,
          onAppended: claim || plan.onAppended ? () => this.appended(state, plan, claim) : undefined,
        });
        return { state, events, version };
      } catch (error) {
        if (!(error instanceof StreamChangedError) || retries === 0) throw error;
      }
    }
  }

  private async appended<S, C extends DomainCommand, E extends DomainEvent>(state: S, plan: CommandPlan<S, C, E>, claim: Lease | undefined): Promise<void> {
    if (claim && plan.claim) await claim.commit(plan.claim.owner);
    await plan.onAppended?.(state);
  }
}
