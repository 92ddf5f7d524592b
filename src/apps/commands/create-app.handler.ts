import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../platform/events/event-writer.service.js';
import { appDecider, createApp, validateName } from '../app.aggregate.js';
import { type AppDoc, AppsProjection } from '../apps.projection.js';

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
    private readonly writer: EventWriter,
    private readonly projection: AppsProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute({ input, actor }: CreateAppCommand): Promise<AppDoc> {
    validateName(input.name);
    const token = await this.names.reserve(input.name, this.config.nameReservationTtlMs);
    const appId = randomUUID();
    try {
      await this.writer.handle(streams.app(appId), appDecider, (state) => createApp(state, { ...input, appId, ownerId: actor }), { actor, appId, fresh: true });
      await this.names.commit(input.name, token, appId);
      return await this.projection.read(appId);
    } catch (error) {
      await this.names.release(input.name, token);
      throw error;
    }
  }
}
