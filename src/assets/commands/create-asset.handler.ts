import { randomUUID } from 'node:crypto';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { conflict } from '../../platform/domain-errors.js';
import { createAsset } from '../asset.aggregate.js';
import type { AssetDoc } from '../assets.projection.js';
import { AssetCommandRunner, type IncomingAssetFile } from './asset-command.runner.js';

export class CreateAssetCommand extends Command<AssetDoc> {
  constructor(
    readonly appId: string,
    readonly file: IncomingAssetFile,
    readonly actor: string,
  ) {
    super();
  }
}

/** The id is chosen here, before the upload, because it names the blob the bytes stream into. */
@CommandHandler(CreateAssetCommand)
export class CreateAssetHandler implements ICommandHandler<CreateAssetCommand, AssetDoc> {
  constructor(private readonly runner: AssetCommandRunner) {}

  execute({ appId, file, actor }: CreateAssetCommand): Promise<AssetDoc> {
    const assetId = randomUUID();
    return this.runner.writeFile(appId, assetId, actor, file, {
      fileVersion: (state) => {
        if (state.status !== 'new') throw conflict(`Asset ${assetId} exists already`);
        return 0;
      },
      events: (state, _fileVersion, stored) => createAsset(state, { assetId, file: stored }),
    });
  }
}
