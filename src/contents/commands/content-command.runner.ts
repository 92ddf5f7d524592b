import { Injectable } from '@nestjs/common';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { appKey } from '../../infrastructure/read-store/read-store.port.js';
import { notFound } from '../../platform/domain-errors.js';
import { EventWriter } from '../../platform/events/event-writer.service.js';
import { SchemaCommandRunner } from '../../schemas/commands/schema-command.runner.js';
import { contentDecider, type ContentState, type SchemaRef } from '../content.aggregate.js';
import type { ContentEvent } from '../content.events.js';
import { type ContentDoc, ContentsProjection } from '../contents.projection.js';

/**
 * The resolve schema → load → decide → append → read-back cycle every content command shares.
 * The append expects the version the decision was made on, so a concurrent change makes it 409
 * instead of silently overwriting.
 */
@Injectable()
export class ContentCommandRunner {
  constructor(
    private readonly writer: EventWriter,
    private readonly schemas: SchemaCommandRunner,
    private readonly projection: ContentsProjection,
  ) {}

  /**
   * `fresh`: the id was generated just now, so its stream cannot exist yet and is not read; the
   * append expects no stream, so it would still be refused if it did.
   */
  async run(appId: string, schemaName: string, contentId: string, actor: string, decide: (state: ContentState, schema: SchemaRef) => ContentEvent[], fresh = false): Promise<ContentDoc | undefined> {
    const schema = await this.schemas.resolve(appId, schemaName);
    const stream = streams.child('content', appId, contentId);
    const { state, version } = fresh ? { state: contentDecider.initialState(), version: -1 } : await this.writer.load(stream, contentDecider);
    const events = decide(state, schema);
    if (events.length > 0) await this.writer.append(stream, events, version, { actor, appId });
    return this.projection.contents.get(appKey(appId, contentId));
  }

  async runExisting(appId: string, schemaName: string, contentId: string, actor: string, decide: (state: ContentState, schema: SchemaRef) => ContentEvent[], fresh = false): Promise<ContentDoc> {
    const content = await this.run(appId, schemaName, contentId, actor, decide, fresh);
    // Only a schema delete racing this command leaves nothing to show.
    if (!content) throw notFound(`Content ${contentId} does not exist in schema "${schemaName}"`);
    return content;
  }
}
