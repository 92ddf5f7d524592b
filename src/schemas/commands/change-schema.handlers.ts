import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { notFound } from '../../platform/domain-errors.js';
import { addField, deleteSchema, type FieldInput } from '../schema.aggregate.js';
import type { SchemaDoc } from '../schemas.projection.js';
import { SchemaCommandRunner } from './schema-command.runner.js';

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
  constructor(private readonly runner: SchemaCommandRunner) {}

  async execute({ appId, schemaName, field, actor }: AddSchemaFieldCommand): Promise<SchemaDoc> {
    const { id } = await this.runner.resolve(appId, schemaName);
    const schema = await this.runner.run(appId, id, actor, (state) => addField(state, field));
    // Only a delete racing this change leaves nothing to show.
    if (!schema) throw notFound(`Schema "${schemaName}" does not exist in this app`);
    return schema;
  }
}

/**
 * The schema's events and its contents' streams are kept (history and backups need them); the
 * name becomes free and the contents projection drops the schema's contents from every read.
 */
@CommandHandler(DeleteSchemaCommand)
export class DeleteSchemaHandler implements ICommandHandler<DeleteSchemaCommand, void> {
  constructor(private readonly runner: SchemaCommandRunner) {}

  async execute({ appId, schemaName, actor }: DeleteSchemaCommand): Promise<void> {
    const { id } = await this.runner.resolve(appId, schemaName);
    await this.runner.run(appId, id, actor, deleteSchema);
  }
}
