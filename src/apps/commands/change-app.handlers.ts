import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { notFound } from '../../platform/domain-errors.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { UsersService } from '../../users/users.service.js';
import { appDecider, type AppState, assignContributor, deleteApp, removeContributor, updateApp } from '../app.aggregate.js';
import type { AppEvent } from '../app.events.js';
import { type AppDoc, AppsProjection } from '../apps.projection.js';

export class UpdateAppCommand extends Command<AppDoc> {
  constructor(readonly appId: string, readonly input: { label?: string; description?: string }, readonly actor: string) {
    super();
  }
}

export class AssignContributorCommand extends Command<AppDoc> {
  constructor(readonly appId: string, readonly input: { email: string; role: string }, readonly actor: string) {
    super();
  }
}

export class RemoveContributorCommand extends Command<AppDoc> {
  constructor(readonly appId: string, readonly userId: string, readonly actor: string) {
    super();
  }
}

export class DeleteAppCommand extends Command<void> {
  constructor(readonly appId: string, readonly actor: string) {
    super();
  }
}

/** Decides on the app's stream and answers with the app as the projection then shows it. */
async function decideOnApp(writer: EventWriter, projection: AppsProjection, appId: string, actor: string, decide: (state: AppState) => AppEvent[]): Promise<AppDoc> {
  await writer.handle(streams.app(appId), appDecider, decide, { actor, appId });
  return projection.read(appId);
}

@CommandHandler(UpdateAppCommand)
export class UpdateAppHandler implements ICommandHandler<UpdateAppCommand, AppDoc> {
  constructor(private readonly writer: EventWriter, private readonly projection: AppsProjection) {}
  execute({ appId, input, actor }: UpdateAppCommand): Promise<AppDoc> {
    return decideOnApp(this.writer, this.projection, appId, actor, (state) => updateApp(state, input));
  }
}

@CommandHandler(AssignContributorCommand)
export class AssignContributorHandler implements ICommandHandler<AssignContributorCommand, AppDoc> {
  constructor(private readonly writer: EventWriter, private readonly projection: AppsProjection, private readonly users: UsersService) {}
  async execute({ appId, input, actor }: AssignContributorCommand): Promise<AppDoc> {
    const user = await this.users.findByEmail(input.email);
    if (!user) throw notFound(`No user has the email ${input.email}; an admin can create one with POST /api/users`);
    return decideOnApp(this.writer, this.projection, appId, actor, (state) => assignContributor(state, { userId: user.id, role: input.role }));
  }
}

@CommandHandler(RemoveContributorCommand)
export class RemoveContributorHandler implements ICommandHandler<RemoveContributorCommand, AppDoc> {
  constructor(private readonly writer: EventWriter, private readonly projection: AppsProjection) {}
  execute({ appId, userId, actor }: RemoveContributorCommand): Promise<AppDoc> {
    return decideOnApp(this.writer, this.projection, appId, actor, (state) => removeContributor(state, { userId }));
  }
}

/** The events stay (history and backups keep them); the name becomes free for a new app. */
@CommandHandler(DeleteAppCommand)
export class DeleteAppHandler implements ICommandHandler<DeleteAppCommand, void> {
  constructor(private readonly writer: EventWriter, @Inject(NAME_INDEX) private readonly names: NameIndex) {}
  async execute({ appId, actor }: DeleteAppCommand): Promise<void> {
    let name: string | undefined;
    await this.writer.handle(
      streams.app(appId),
      appDecider,
      (state) => {
        name = state.name;
        return deleteApp(state);
      },
      { actor, appId, onAppended: async () => this.names.releaseOwned(claims.appName(name!), appId) },
    );
  }
}
