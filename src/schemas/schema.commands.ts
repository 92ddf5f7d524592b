import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import { type CommandPlan, type CommandPlanner, StreamCommand } from '../eventsourcing/stream-command.handler.js';
import { type FieldInput, type SchemaCommand, schemaDecider, type SchemaState } from './schema.aggregate.js';
import type { SchemaEvent } from './schema.events.js';
import { type SchemaDoc, SchemasProjection } from './schemas.projection.js';

/**
 * Schema commands as the CommandBus carries them, and what the schemas module adds to the one
 * command cycle (StreamCommandHandler, src/eventsourcing/stream-command.handler.ts).
 */

export class CreateSchemaCommand extends StreamCommand<SchemaDoc> {
  constructor(
    readonly appId: string,
    readonly input: { name: string; fields: FieldInput[] },
    readonly actor: string,
  ) {
    super();
  }
}

export class AddSchemaFieldCommand extends StreamCommand<SchemaDoc> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly field: FieldInput,
    readonly actor: string,
  ) {
    super();
  }
}

/**
 * The schema's events and its contents' streams are kept (history and backups need them); the
 * name becomes free and the contents projection drops the schema's contents from every read.
 */
export class DeleteSchemaCommand extends StreamCommand<void> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly actor: string,
  ) {
    super();
  }
}

type SchemaRequest = CreateSchemaCommand | AddSchemaFieldCommand | DeleteSchemaCommand;

/**
 * Schema names are unique per app, a rule no single stream can enforce. A create claims the name
 * in the shared claims first (so two creates, in one process or two, cannot both pass); the claim
 * is committed to the schema once its event is stored. Schemas that came with a restore were never
 * claimed, so the read model is asked as well. A schema is addressed by its name, resolved from the
 * read model, and commands answer with the schema as the projection then shows it.
 */
@Injectable()
export class SchemaCommandPlanner implements CommandPlanner<SchemaRequest, SchemaState, SchemaCommand, SchemaEvent> {
  readonly commands = [CreateSchemaCommand, AddSchemaFieldCommand, DeleteSchemaCommand];
  readonly decider = schemaDecider;

  constructor(
    private readonly projection: SchemasProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async plan(request: SchemaRequest): Promise<CommandPlan<SchemaState, SchemaCommand, SchemaEvent>> {
    const { appId, actor } = request;
    if (request instanceof CreateSchemaCommand) {
      const { name } = request.input;
      const schemaId = randomUUID();
      return {
        stream: streams.child('schema', appId, schemaId),
        actor,
        appId,
        fresh: true,
        claim: { claim: claims.schemaName(appId, name), owner: schemaId },
        prepare: async () => ({ type: 'CreateSchema', data: { schemaId, ...request.input, nameTaken: (await this.projection.findByName(appId, name)) !== undefined } }),
        answer: () => this.projection.read(appId, schemaId, name),
      };
    }
    const { schemaName } = request;
    const { id } = await this.projection.resolve(appId, schemaName);
    const onSchema = { stream: streams.child('schema', appId, id), actor, appId, retryOnConflict: true };
    if (request instanceof AddSchemaFieldCommand) {
      return { ...onSchema, command: { type: 'AddSchemaField', data: { field: request.field } }, answer: () => this.projection.read(appId, id, schemaName) };
    }
    return { ...onSchema, command: { type: 'DeleteSchema', data: {} }, onAppended: () => this.names.releaseOwned(claims.schemaName(appId, schemaName), id) };
  }
}
