import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { appDecider, createApp, validateName } from '../app.aggregate.js';
import type { AppDoc } from '../apps.projection.js';
import { AppCommandRunner } from './app-command.runner.js';

export class CreateAppCommand extends Command<AppDoc> {
  constructor(
    readonly input: { name: string; label?: string; description?: string },
    readonly actor: string,
  ) {
    super();
  }
}

/** Reserve the name first, so two creates (or a create and a restore) can never share it. */
@CommandHandler(CreateAppCommand)
export class CreateAppHandler implements ICommandHandler<CreateAppCommand, AppDoc> {
  constructor(
    private readonly runner: AppCommandRunner,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute({ input, actor }: CreateAppCommand): Promise<AppDoc> {
    validateName(input.name);
    const token = await this.names.reserve(input.name, this.config.nameReservationTtlMs);
    const appId = randomUUID();
    try {
      const app = await this.runner.run(appId, actor, () => createApp(appDecider.initialState(), { ...input, appId, ownerId: actor }), -1);
      await this.names.commit(input.name, token, appId);
      if (!app) throw new Error(`App ${appId} was written but is not projected`);
      return app;
    } catch (error) {
      await this.names.release(input.name, token);
      throw error;
    }
  }
}
