import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { appKey } from '../infrastructure/read-store/read-store.port.js';
import { notFound } from '../platform/domain-errors.js';
import { type CommandPlan, type CommandPlanner, StreamCommand } from '../eventsourcing/stream-command.handler.js';
import { SchemasProjection } from '../schemas/schemas.projection.js';
import { type ContentCommand, contentDecider, type ContentState, type SchemaRef } from './content.aggregate.js';
import type { ContentEvent } from './content.events.js';
import { type ContentDoc, ContentsProjection } from './contents.projection.js';

/**
 * Content commands as the CommandBus carries them, and what the content module adds to the one
 * command cycle (StreamCommandHandler, src/eventsourcing/stream-command.handler.ts).
 */

/** One content as the path names it; `expectedVersion` comes from If-Match. */
export interface ContentAddress {
  appId: string;
  schemaName: string;
  contentId: string;
  expectedVersion?: number;
}

export class CreateContentCommand extends StreamCommand<ContentDoc> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly input: { data: unknown; publish: boolean },
    readonly actor: string,
  ) {
    super();
  }
}

export class UpdateContentCommand extends StreamCommand<ContentDoc> {
  constructor(readonly target: ContentAddress, readonly data: unknown, readonly actor: string) {
    super();
  }
}

export class ChangeContentStatusCommand extends StreamCommand<ContentDoc> {
  constructor(readonly target: ContentAddress, readonly status: string, readonly actor: string) {
    super();
  }
}

/** The stream stays (history and backups keep it); the content leaves every read. */
export class DeleteContentCommand extends StreamCommand<void> {
  constructor(readonly target: ContentAddress, readonly actor: string) {
    super();
  }
}

type ContentRequest = CreateContentCommand | UpdateContentCommand | ChangeContentStatusCommand | DeleteContentCommand;

/**
 * Content commands first resolve the schema the path names (from the read model: its fields are
 * what the data is checked against), and answer with the content as the projection then shows it.
 */
@Injectable()
export class ContentCommandPlanner implements CommandPlanner<ContentRequest, ContentState, ContentCommand, ContentEvent> {
  readonly commands = [CreateContentCommand, UpdateContentCommand, ChangeContentStatusCommand, DeleteContentCommand];
  readonly decider = contentDecider;

  constructor(
    private readonly schemas: SchemasProjection,
    private readonly projection: ContentsProjection,
  ) {}

  async plan(request: ContentRequest): Promise<CommandPlan<ContentState, ContentCommand, ContentEvent>> {
    const created = request instanceof CreateContentCommand;
    const { appId, schemaName, contentId, expectedVersion }: ContentAddress = created ? { appId: request.appId, schemaName: request.schemaName, contentId: randomUUID() } : request.target;
    const schema = await this.schemas.resolve(appId, schemaName);
    return {
      stream: streams.child('content', appId, contentId),
      actor: request.actor,
      appId,
      fresh: created,
      command: decision(request, contentId, schema),
      retryOnConflict: !created && expectedVersion === undefined,
      answer: request instanceof DeleteContentCommand ? undefined : () => this.read(appId, schemaName, contentId),
    };
  }

  private async read(appId: string, schemaName: string, contentId: string): Promise<ContentDoc> {
    const content = await this.projection.contents.get(appKey(appId, contentId));
    // Only a schema delete racing this command leaves nothing to show.
    if (!content) throw notFound(`Content ${contentId} does not exist in schema "${schemaName}"`);
    return content;
  }
}

function decision(request: ContentRequest, contentId: string, schema: SchemaRef): ContentCommand {
  if (request instanceof CreateContentCommand) return { type: 'CreateContent', data: { contentId, schema, ...request.input } };
  const { expectedVersion } = request.target;
  if (request instanceof UpdateContentCommand) return { type: 'UpdateContent', data: { contentId, schema, data: request.data, expectedVersion } };
  if (request instanceof ChangeContentStatusCommand) return { type: 'ChangeContentStatus', data: { contentId, schema, status: request.status, expectedVersion } };
  return { type: 'DeleteContent', data: { contentId, schema, expectedVersion } };
}
