import { randomUUID } from 'node:crypto';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { createContent } from '../content.aggregate.js';
import type { ContentDoc } from '../contents.projection.js';
import { ContentCommands } from './content-commands.service.js';

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
  constructor(private readonly contents: ContentCommands) {}

  execute({ appId, schemaName, input, actor }: CreateContentCommand): Promise<ContentDoc> {
    const contentId = randomUUID();
    return this.contents.decide({ appId, schemaName, contentId, actor, fresh: true }, (state, schema) => createContent(state, { contentId, schema, ...input }));
  }
}
