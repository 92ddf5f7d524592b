import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { notFound } from '../../platform/domain-errors.js';
import { deleteAsset, isAssetId, nextFileVersion, replaceAssetFile } from '../asset.aggregate.js';
import type { AssetDoc } from '../assets.projection.js';
import { AssetCommandRunner, type IncomingAssetFile } from './asset-command.runner.js';

export class ReplaceAssetFileCommand extends Command<AssetDoc> {
  constructor(
    readonly appId: string,
    readonly assetId: string,
    readonly file: IncomingAssetFile,
    readonly actor: string,
  ) {
    super();
  }
}

export class DeleteAssetCommand extends Command<void> {
  constructor(
    readonly appId: string,
    readonly assetId: string,
    readonly actor: string,
  ) {
    super();
  }
}

/** An id that could never have been issued is unknown, not malformed: it must not reach a stream name or blob key. */
function knownShape(assetId: string): void {
  if (!isAssetId(assetId)) throw notFound(`Asset "${assetId}" does not exist`);
}

@CommandHandler(ReplaceAssetFileCommand)
export class ReplaceAssetFileHandler implements ICommandHandler<ReplaceAssetFileCommand, AssetDoc> {
  constructor(private readonly runner: AssetCommandRunner) {}

  async execute({ appId, assetId, file, actor }: ReplaceAssetFileCommand): Promise<AssetDoc> {
    knownShape(assetId);
    return this.runner.writeFile(appId, assetId, actor, file, {
      fileVersion: nextFileVersion,
      events: (state, fileVersion, stored) => replaceAssetFile(state, { fileVersion, file: stored }),
    });
  }
}

/** Only the read model forgets the asset; its file versions stay for the history (see AssetFilesService). */
@CommandHandler(DeleteAssetCommand)
export class DeleteAssetHandler implements ICommandHandler<DeleteAssetCommand, void> {
  constructor(private readonly runner: AssetCommandRunner) {}

  async execute({ appId, assetId, actor }: DeleteAssetCommand): Promise<void> {
    knownShape(assetId);
    await this.runner.run(appId, assetId, actor, deleteAsset);
  }
}
