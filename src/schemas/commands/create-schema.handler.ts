import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { createSchema, type FieldInput, schemaDecider } from '../schema.aggregate.js';
import { type SchemaDoc, SchemasProjection } from '../schemas.projection.js';

export class CreateSchemaCommand extends Command<SchemaDoc> {
  constructor(
    readonly appId: string,
    readonly input: { name: string; fields: FieldInput[] },
    readonly actor: string,
  ) {
    super();
  }
}

/**
 * Schema names are unique per app, a rule no single stream can enforce. The name is claimed in
 * the shared claims first (so two creates, in one process or two, cannot both pass) and committed
 * to the schema once its event is stored. Schemas that came with a restore were never claimed,
 * so the read model is asked as well.
 */
@CommandHandler(CreateSchemaCommand)
export class CreateSchemaHandler implements ICommandHandler<CreateSchemaCommand, SchemaDoc> {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: SchemasProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute({ appId, input, actor }: CreateSchemaCommand): Promise<SchemaDoc> {
    const schemaId = randomUUID();
    const name = await Lease.acquire(this.names, claims.schemaName(appId, input.name), { ttlMs: this.config.nameReservationTtlMs, holder: schemaId });
    try {
      const nameTaken = (await this.projection.findByName(appId, input.name)) !== undefined;
      const decide = (state: Parameters<typeof createSchema>[0]) => createSchema(state, { schemaId, ...input, nameTaken });
      await this.writer.handle(streams.child('schema', appId, schemaId), schemaDecider, decide, { actor, appId, fresh: true, onAppended: () => name.commit(schemaId) });
      return await this.projection.read(appId, schemaId, input.name);
    } finally {
      await name.release();
    }
  }
}
