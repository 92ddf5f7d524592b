import { Controller, Delete, Get, HttpCode, Inject, Logger, Param, Post, Put, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { type Asset, AssetContentQuery as ContentQuery } from '../contract/assets.schemas.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { BlobNotFoundError } from '../infrastructure/blob-store/blob-store.port.js';
import { ANY_ROLE, AppAccess, WRITERS } from '../auth/access.decorator.js';
import type { AppAccessInfo } from '../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../auth/current.decorators.js';
import type { Principal } from '../auth/principal.js';
import { gone, notFound } from '../platform/domain-errors.js';
import { PageQuery } from '../contract/paging.schemas.js';
import { isAssetId } from './asset.aggregate.js';
import { AssetFilesService } from './asset-files.service.js';
import { type AssetDoc, assetDocId, AssetsProjection } from './assets.projection.js';
import { CreateAssetCommand, DeleteAssetCommand, ReplaceAssetFileCommand } from './asset.commands.js';
import { contentDisposition } from './content-disposition.header.js';
import { type ReceivedFile, receiveFile } from './multipart-file.reader.js';

const FILE_FIELD = 'file';

const ListQuery = PageQuery;

type AssetView = Asset;

const toView = (doc: AssetDoc): AssetView => ({
  id: doc.assetId,
  fileName: doc.fileName,
  mimeType: doc.mimeType,
  fileSize: doc.fileSize,
  sha256: doc.sha256,
  fileVersion: doc.fileVersion,
  version: doc.version,
  created: doc.created,
  createdBy: doc.createdBy,
  lastModified: doc.lastModified,
});

/**
 * Uploads are multipart, parsed here from the raw request stream: the server registers only a JSON
 * body parser, which leaves multipart requests untouched.
 */
@Controller('api/apps/:app/assets')
export class AssetsController {
  private readonly logger = new Logger('Assets');

  constructor(
    private readonly commands: CommandBus,
    private readonly projection: AssetsProjection,
    private readonly files: AssetFilesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @AppAccess(...WRITERS)
  async create(@CurrentApp() app: AppAccessInfo, @CurrentUser() caller: Principal, @Req() request: Request): Promise<AssetView> {
    return this.withUpload(request, async (file) => toView(await this.commands.execute(new CreateAssetCommand(app.id, file, caller.userId))));
  }

  @Get()
  @AppAccess(...ANY_ROLE)
  async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: ListQuery }) query: z.infer<typeof ListQuery>): Promise<{ total: number; items: AssetView[] }> {
    const page = await this.projection.assets.find(
      { appId: app.id },
      { sort: [{ field: 'created', direction: 'desc' }], top: query.top, skip: query.skip },
    );
    return { total: page.total, items: page.items.map(toView) };
  }

  @Get(':id')
  @AppAccess(...ANY_ROLE)
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string): Promise<AssetView> {
    return toView(await this.load(app, id));
  }

  /** Answers 200 with the Asset: the asset stays the same resource, with a new file version. */
  @Put(':id/content')
  @HttpCode(200)
  @AppAccess(...WRITERS)
  async replace(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @CurrentUser() caller: Principal, @Req() request: Request): Promise<AssetView> {
    // Checked before the body is read, so an upload to an unknown asset is refused at once.
    await this.load(app, id);
    return this.withUpload(request, async (file) => toView(await this.commands.execute(new ReplaceAssetFileCommand(app.id, id, file, caller.userId))));
  }

  @Delete(':id')
  @HttpCode(204)
  @AppAccess(...WRITERS)
  async remove(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @CurrentUser() caller: Principal): Promise<void> {
    await this.load(app, id);
    await this.commands.execute(new DeleteAssetCommand(app.id, id, caller.userId));
  }

  @Get(':id/content')
  @AppAccess(...ANY_ROLE)
  async download(
    @CurrentApp() app: AppAccessInfo,
    @Param('id') id: string,
    @Query({ schema: ContentQuery }) query: z.infer<typeof ContentQuery>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StreamableFile> {
    const asset = await this.load(app, id);
    const fileVersion = query.version ?? asset.fileVersion;
    const file = asset.versions.find((v) => v.fileVersion === fileVersion);
    if (!file) throw notFound(`Asset ${id} has no file version ${fileVersion}; its versions are 0 to ${asset.fileVersion}`);
    let stream;
    try {
      stream = await this.files.open(app.id, asset.assetId, fileVersion);
    } catch (error) {
      // History names these bytes but they are gone (a backup found them missing, a restore could not bring them back).
      if (error instanceof BlobNotFoundError) {
        this.logger.warn(`The bytes of asset ${id} file version ${fileVersion} are missing from the blob store (${error.key})`);
        throw gone(`Asset ${id} file version ${fileVersion} has no bytes any more: they were missing when it was backed up or restored. Upload the file again to make a new version.`);
      }
      throw error;
    }
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('ETag', `"${file.sha256}"`);
    return new StreamableFile(stream, { type: file.mimeType, length: file.fileSize, disposition: contentDisposition(file.fileName) });
  }

  private async load(app: AppAccessInfo, id: string): Promise<AssetDoc> {
    const asset = isAssetId(id) ? await this.projection.assets.get(assetDocId(app.id, id)) : undefined;
    if (!asset) throw notFound(`Asset "${id}" does not exist in app "${app.name}"`);
    return asset;
  }

  private async withUpload<T>(request: Request, work: (file: ReceivedFile) => Promise<T>): Promise<T> {
    const file = await receiveFile(request, { fieldName: FILE_FIELD, maxBytes: this.config.maxUploadBytes });
    try {
      return await work(file);
    } finally {
      file.discard();
    }
  }
}
