import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { changeContentStatus, deleteContent, updateContent } from '../content.aggregate.js';
import type { ContentDoc } from '../contents.projection.js';
import { ContentCommands } from './content-commands.service.js';

/** Addresses one content through the path; `expectedVersion` comes from If-Match. */
interface ContentTarget {
  appId: string;
  schemaName: string;
  contentId: string;
  expectedVersion?: number;
}

export class UpdateContentCommand extends Command<ContentDoc> {
  constructor(readonly target: ContentTarget, readonly data: unknown, readonly actor: string) {
    super();
  }
}

export class ChangeContentStatusCommand extends Command<ContentDoc> {
  constructor(readonly target: ContentTarget, readonly status: string, readonly actor: string) {
    super();
  }
}

export class DeleteContentCommand extends Command<void> {
  constructor(readonly target: ContentTarget, readonly actor: string) {
    super();
  }
}

@CommandHandler(UpdateContentCommand)
export class UpdateContentHandler implements ICommandHandler<UpdateContentCommand, ContentDoc> {
  constructor(private readonly contents: ContentCommands) {}

  execute({ target: { appId, schemaName, contentId, expectedVersion }, data, actor }: UpdateContentCommand): Promise<ContentDoc> {
    return this.contents.decide({ appId, schemaName, contentId, actor }, (state, schema) => updateContent(state, { contentId, schema, data, expectedVersion }));
  }
}

@CommandHandler(ChangeContentStatusCommand)
export class ChangeContentStatusHandler implements ICommandHandler<ChangeContentStatusCommand, ContentDoc> {
  constructor(private readonly contents: ContentCommands) {}

  execute({ target: { appId, schemaName, contentId, expectedVersion }, status, actor }: ChangeContentStatusCommand): Promise<ContentDoc> {
    return this.contents.decide({ appId, schemaName, contentId, actor }, (state, schema) => changeContentStatus(state, { contentId, schema, status, expectedVersion }));
  }
}

/** The stream stays (history and backups keep it); the content leaves every read. */
@CommandHandler(DeleteContentCommand)
export class DeleteContentHandler implements ICommandHandler<DeleteContentCommand, void> {
  constructor(private readonly contents: ContentCommands) {}

  async execute({ target: { appId, schemaName, contentId, expectedVersion }, actor }: DeleteContentCommand): Promise<void> {
    await this.contents.decide({ appId, schemaName, contentId, actor, answer: false }, (state, schema) => deleteContent(state, { contentId, schema, expectedVersion }));
  }
}
