import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { notFound } from '../../platform/domain-errors.js';
import { UsersService } from '../../users/users.service.js';
import { assignContributor, deleteApp, removeContributor, updateApp } from '../app.aggregate.js';
import type { AppDoc } from '../apps.projection.js';
import { AppCommandRunner } from './app-command.runner.js';

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

@CommandHandler(UpdateAppCommand)
export class UpdateAppHandler implements ICommandHandler<UpdateAppCommand, AppDoc> {
  constructor(private readonly runner: AppCommandRunner) {}
  execute({ appId, input, actor }: UpdateAppCommand): Promise<AppDoc> {
    return this.runner.runExisting(appId, actor, (state) => updateApp(state, input));
  }
}

@CommandHandler(AssignContributorCommand)
export class AssignContributorHandler implements ICommandHandler<AssignContributorCommand, AppDoc> {
  constructor(private readonly runner: AppCommandRunner, private readonly users: UsersService) {}
  async execute({ appId, input, actor }: AssignContributorCommand): Promise<AppDoc> {
    const user = await this.users.findByEmail(input.email);
    if (!user) throw notFound(`No user has the email ${input.email}; an admin can create one with POST /api/users`);
    return this.runner.runExisting(appId, actor, (state) => assignContributor(state, { userId: user.id, role: input.role }));
  }
}

@CommandHandler(RemoveContributorCommand)
export class RemoveContributorHandler implements ICommandHandler<RemoveContributorCommand, AppDoc> {
  constructor(private readonly runner: AppCommandRunner) {}
  execute({ appId, userId, actor }: RemoveContributorCommand): Promise<AppDoc> {
    return this.runner.runExisting(appId, actor, (state) => removeContributor(state, { userId }));
  }
}

/** The events stay (history and backups keep them); the name becomes free for a new app. */
@CommandHandler(DeleteAppCommand)
export class DeleteAppHandler implements ICommandHandler<DeleteAppCommand, void> {
  constructor(private readonly runner: AppCommandRunner, @Inject(NAME_INDEX) private readonly names: NameIndex) {}
  async execute({ appId, actor }: DeleteAppCommand): Promise<void> {
    let name = '';
    await this.runner.run(appId, actor, (state) => {
      name = state.name;
      return deleteApp(state);
    });
    await this.names.releaseApp(name, appId);
  }
}
