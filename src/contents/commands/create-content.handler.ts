import { randomUUID } from 'node:crypto';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { createContent } from '../content.aggregate.js';
import type { ContentDoc } from '../contents.projection.js';
import { ContentCommandRunner } from './content-command.runner.js';

export class CreateContentCommand extends Command<ContentDoc> {
  constructor(
    readonly appId: string,
    readonly schemaName: string,
    readonly input: { data: unknown; publish: boolean },
    readonly actor: string,
  ) {
    super();
  }
}

@CommandHandler(CreateContentCommand)
export class CreateContentHandler implements ICommandHandler<CreateContentCommand, ContentDoc> {
  constructor(private readonly runner: ContentCommandRunner) {}

  execute({ appId, schemaName, input, actor }: CreateContentCommand): Promise<ContentDoc> {
    const contentId = randomUUID();
    return this.runner.runExisting(appId, schemaName, contentId, actor, (state, schema) => createContent(state, { contentId, schema, ...input }), true);
  }
}
