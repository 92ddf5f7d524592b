import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
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
    const appId = randomUUID();
    const name = await Lease.acquire(this.names, claims.appName(input.name), { ttlMs: this.config.nameReservationTtlMs, holder: appId });
    try {
      await this.writer.handle(streams.app(appId), appDecider, (state) => createApp(state, { ...input, appId, ownerId: actor }), {
        actor,
        appId,
        fresh: true,
        onAppended: () => name.commit(appId),
      });
      return await this.projection.read(appId);
    } finally {
      await name.release();
    }
  }
}
