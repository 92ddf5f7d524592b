import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import { notFound } from '../platform/domain-errors.js';
import { type CommandPlan, type CommandPlanner, StreamCommand } from '../eventsourcing/stream-command.handler.js';
import { UsersService } from '../users/users.service.js';
import { type AppCommand, appDecider, type AppState } from './app.aggregate.js';
import { validateName } from '../platform/text/identifier.rules.js';
import type { AppEvent } from './app.events.js';
import { type AppDoc, AppsProjection } from './apps.projection.js';

/**
 * App commands as the CommandBus carries them, and what the apps module adds to the one command
 * cycle (StreamCommandHandler, src/eventsourcing/stream-command.handler.ts).
 */

export class CreateAppCommand extends StreamCommand<AppDoc> {
  constructor(
    readonly input: { name: string; label?: string; description?: string },
    readonly actor: string,
  ) {
    super();
  }
}

export class UpdateAppCommand extends StreamCommand<AppDoc> {
  constructor(readonly appId: string, readonly input: { label?: string; description?: string }, readonly actor: string) {
    super();
  }
}

export class AssignContributorCommand extends StreamCommand<AppDoc> {
  constructor(readonly appId: string, readonly input: { email: string; role: string }, readonly actor: string) {
    super();
  }
}

export class RemoveContributorCommand extends StreamCommand<AppDoc> {
  constructor(readonly appId: string, readonly userId: string, readonly actor: string) {
    super();
  }
}

/** The events stay (history and backups keep them); the name becomes free for a new app. */
export class DeleteAppCommand extends StreamCommand<void> {
  constructor(readonly appId: string, readonly actor: string) {
    super();
  }
}

type AppRequest = CreateAppCommand | UpdateAppCommand | AssignContributorCommand | RemoveContributorCommand | DeleteAppCommand;

/**
 * App names are unique: a create claims the name first (so two creates, or a create and a restore,
 * can never share it) and a delete frees it once its event is stored. A contributor is named by
 * email and assigned by user id. Commands answer with the app as the projection then shows it.
 */
@Injectable()
export class AppCommandPlanner implements CommandPlanner<AppRequest, AppState, AppCommand, AppEvent> {
  readonly commands = [CreateAppCommand, UpdateAppCommand, AssignContributorCommand, RemoveContributorCommand, DeleteAppCommand];
  readonly decider = appDecider;

  constructor(
    private readonly projection: AppsProjection,
    private readonly users: UsersService,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async plan(request: AppRequest): Promise<CommandPlan<AppState, AppCommand, AppEvent>> {
    const { actor } = request;
    if (request instanceof CreateAppCommand) {
      validateName(request.input.name);
      const appId = randomUUID();
      return {
        stream: streams.app(appId),
        actor,
        appId,
        fresh: true,
        claim: { claim: claims.appName(request.input.name), owner: appId },
        command: { type: 'CreateApp', data: { ...request.input, appId, ownerId: actor } },
        answer: () => this.projection.read(appId),
      };
    }
    const { appId } = request;
    const onApp = { stream: streams.app(appId), actor, appId, retryOnConflict: true };
    if (request instanceof DeleteAppCommand) {
      return { ...onApp, command: { type: 'DeleteApp', data: {} }, onAppended: (state) => this.names.releaseOwned(claims.appName(state.name), appId) };
    }
    return { ...onApp, command: await this.change(request), answer: () => this.projection.read(appId) };
  }

  private async change(request: UpdateAppCommand | AssignContributorCommand | RemoveContributorCommand): Promise<AppCommand> {
    if (request instanceof UpdateAppCommand) return { type: 'UpdateApp', data: request.input };
    if (request instanceof RemoveContributorCommand) return { type: 'RemoveContributor', data: { userId: request.userId } };
    const user = await this.users.findByEmail(request.input.email);
    if (!user) throw notFound(`No user has the email ${request.input.email}; an admin can create one with POST /api/users`);
    return { type: 'AssignContributor', data: { userId: user.id, role: request.input.role } };
  }
}
