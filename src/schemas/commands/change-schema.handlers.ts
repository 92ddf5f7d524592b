import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { addField, deleteSchema, type FieldInput, schemaDecider } from '../schema.aggregate.js';
import { type SchemaDoc, SchemasProjection } from '../schemas.projection.js';

export class AddSchemaFieldCommand extends Command<SchemaDoc> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly field: FieldInput,
    readonly actor: string,
  ) {
    super();
  }
}

export class DeleteSchemaCommand extends Command<void> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly actor: string,
  ) {
    super();
  }
}

@CommandHandler(AddSchemaFieldCommand)
export class AddSchemaFieldHandler implements ICommandHandler<AddSchemaFieldCommand, SchemaDoc> {
  constructor(private readonly writer: EventWriter, private readonly projection: SchemasProjection) {}

  async execute({ appId, schemaName, field, actor }: AddSchemaFieldCommand): Promise<SchemaDoc> {
    const { id } = await this.projection.resolve(appId, schemaName);
    await this.writer.handle(streams.child('schema', appId, id), schemaDecider, (state) => addField(state, field), { actor, appId });
    return this.projection.read(appId, id, schemaName);
  }
}

/**
 * The schema's events and its contents' streams are kept (history and backups need them); the
 * name becomes free and the contents projection drops the schema's contents from every read.
 */
@CommandHandler(DeleteSchemaCommand)
export class DeleteSchemaHandler implements ICommandHandler<DeleteSchemaCommand, void> {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: SchemasProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async execute({ appId, schemaName, actor }: DeleteSchemaCommand): Promise<void> {
    const { id } = await this.projection.resolve(appId, schemaName);
    await this.writer.handle(streams.child('schema', appId, id), schemaDecider, deleteSchema, {
      actor,
      appId,
      onAppended: () => this.names.releaseOwned(claims.schemaName(appId, schemaName), id),
    });
  }
}
