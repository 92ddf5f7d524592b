import { Injectable } from '@nestjs/common';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { appKey } from '../../infrastructure/read-store/read-store.port.js';
import { notFound } from '../../platform/domain-errors.js';
import { EventWriter } from '../../platform/events/event-writer.service.js';
import { schemaDecider, type SchemaState } from '../schema.aggregate.js';
import type { SchemaEvent } from '../schema.events.js';
import { type SchemaDoc, SchemasProjection } from '../schemas.projection.js';

/** The load → decide → append → read-back cycle every schema command shares. */
@Injectable()
export class SchemaCommandRunner {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: SchemasProjection,
  ) {}

  async run(appId: string, schemaId: string, actor: string, decide: (state: SchemaState) => SchemaEvent[]): Promise<SchemaDoc | undefined> {
    const stream = streams.child('schema', appId, schemaId);
    const { state, version } = await this.writer.load(stream, schemaDecider);
    const events = decide(state);
    if (events.length > 0) await this.writer.append(stream, events, version, { actor, appId });
    return this.projection.schemas.get(appKey(appId, schemaId));
  }

  /** Resolves the name in the path to a live schema of the app; 404 otherwise. */
  async resolve(appId: string, name: string): Promise<SchemaDoc> {
    const schema = await this.projection.findByName(appId, name);
    if (!schema) throw notFound(`Schema "${name}" does not exist in this app`);
    return schema;
  }
}
