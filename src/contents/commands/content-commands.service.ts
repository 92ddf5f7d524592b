import { Injectable } from '@nestjs/common';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { appKey } from '../../infrastructure/read-store/read-store.port.js';
import { notFound } from '../../platform/domain-errors.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
import { SchemasProjection } from '../../schemas/schemas.projection.js';
import { contentDecider, type ContentState, type SchemaRef } from '../content.aggregate.js';
import type { ContentEvent } from '../content.events.js';
import { type ContentDoc, ContentsProjection } from '../contents.projection.js';

export interface ContentTarget {
  appId: string;
  schemaName: string;
  contentId: string;
  actor: string;
  /** A content id generated just now (see HandleOptions.fresh). */
  fresh?: boolean;
  /** false: the caller needs no answer (a delete). */
  answer?: boolean;
}

/**
 * What content commands add to the generic handler: the schema the path names, resolved first,
 * and the content as the projection shows it afterwards.
 */
@Injectable()
export class ContentCommands {
  constructor(
    private readonly writer: EventWriter,
    private readonly schemas: SchemasProjection,
    private readonly projection: ContentsProjection,
  ) {}

  async decide(target: ContentTarget & { answer: false }, decide: (state: ContentState, schema: SchemaRef) => ContentEvent[]): Promise<undefined>;
  async decide(target: ContentTarget, decide: (state: ContentState, schema: SchemaRef) => ContentEvent[]): Promise<ContentDoc>;
  async decide(target: ContentTarget, decide: (state: ContentState, schema: SchemaRef) => ContentEvent[]): Promise<ContentDoc | undefined> {
    const { appId, schemaName, contentId, actor } = target;
    const schema = await this.schemas.resolve(appId, schemaName);
    await this.writer.handle(streams.child('content', appId, contentId), contentDecider, (state) => decide(state, schema), { actor, appId, fresh: target.fresh ?? false });
    if (target.answer === false) return undefined;
    const content = await this.projection.contents.get(appKey(appId, contentId));
    // Only a schema delete racing this command leaves nothing to show.
    if (!content) throw notFound(`Content ${contentId} does not exist in schema "${schemaName}"`);
    return content;
  }
}
