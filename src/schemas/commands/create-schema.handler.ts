import { randomUUID } from 'node:crypto';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { EventWriter } from '../../platform/events/event-writer.service.js';
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
 * Schema names are unique per app, a rule no single stream can enforce. Creates of one app are
 * serialised in-process, and the writer waits for the projection before answering, so the next
 * create's lookup always sees the previous one. (Several server processes would need a unique
 * index in the read store instead.)
 */
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(work, work);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

@CommandHandler(CreateSchemaCommand)
export class CreateSchemaHandler implements ICommandHandler<CreateSchemaCommand, SchemaDoc> {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: SchemasProjection,
  ) {}

  execute({ appId, input, actor }: CreateSchemaCommand): Promise<SchemaDoc> {
    return serialised(appId, async () => {
      const schemaId = randomUUID();
      const nameTaken = (await this.projection.findByName(appId, input.name)) !== undefined;
      const decide = (state: Parameters<typeof createSchema>[0]) => createSchema(state, { schemaId, ...input, nameTaken });
      await this.writer.handle(streams.child('schema', appId, schemaId), schemaDecider, decide, { actor, appId, fresh: true });
      return this.projection.read(appId, schemaId, input.name);
    });
  }
}
