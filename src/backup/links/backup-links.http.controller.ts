import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { AdminOnly, AppAccess, MAINTAINERS, Public } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { type Page, PageQuery } from '../../contract/paging.schemas.js';
import { sendArchive } from '../shared/archive-download.js';
import { BackupArchives } from '../shared/archive-locations.js';
import { CreateLinkBody } from '../../contract/links.schemas.js';
import { toLinkView } from './backup-link.js';
import { BackupLinksService } from './backup-links.service.js';

type CreateLink = z.infer<typeof CreateLinkBody>;

/** Where links point: PUBLIC_URL when set, else the address this request came in at. */
function baseUrl(config: AppConfig, req: Request): string {
  return config.publicUrl ?? `${req.protocol}://${req.get('host') ?? `localhost:${config.port}`}`;
}

@Controller('api/apps/:app/backups/:id/links')
export class AppBackupLinksController {
  constructor(
    private readonly links: BackupLinksService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @AppAccess(...MAINTAINERS)
  create(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Body({ schema: CreateLinkBody }) body: CreateLink, @CurrentUser() caller: Principal, @Req() req: Request) {
    return this.links.create(id, app.id, body.expiresIn, caller.userId, baseUrl(this.config, req));
  }

  @Get()
  @AppAccess(...MAINTAINERS)
  async list(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Query({ schema: PageQuery }) page: Page) {
    const found = await this.links.list(id, app.id, page);
    return { total: found.total, items: found.items.map(toLinkView) };
  }

  @Delete(':linkId')
  @HttpCode(204)
  @AppAccess(...MAINTAINERS)
  async revoke(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Param('linkId') linkId: string): Promise<void> {
    await this.links.revoke(id, app.id, linkId);
  }
}

@Controller('api/backups/:id/links')
export class AdminBackupLinksController {
  constructor(
    private readonly links: BackupLinksService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  create(@Param('id') id: string, @Body({ schema: CreateLinkBody }) body: CreateLink, @CurrentUser() caller: Principal, @Req() req: Request) {
    return this.links.create(id, undefined, body.expiresIn, caller.userId, baseUrl(this.config, req));
  }

  @Get()
  @AdminOnly()
  async list(@Param('id') id: string, @Query({ schema: PageQuery }) page: Page) {
    const found = await this.links.list(id, undefined, page);
    return { total: found.total, items: found.items.map(toLinkView) };
  }

  @Delete(':linkId')
  @HttpCode(204)
  @AdminOnly()
  async revoke(@Param('id') id: string, @Param('linkId') linkId: string): Promise<void> {
    await this.links.revoke(id, undefined, linkId);
  }
}

/** The link itself: no API key, the signature in the URL is the permission. */
@Controller('api/links')
export class BackupLinkDownloadController {
  constructor(
    private readonly links: BackupLinksService,
    private readonly archives: BackupArchives,
  ) {}

  @Get(':linkId/archive')
  @Public()
  async download(@Param('linkId') linkId: string, @Query('expires') expires: unknown, @Query('signature') signature: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const job = await this.links.resolve(linkId, typeof expires === 'string' ? expires : undefined, typeof signature === 'string' ? signature : undefined);
    // The link is checked on every use (revoked, expired, its maker's access) before any presigned URL is made; `expires` is the link's, checked by resolve.
    const presigned = await this.archives.presignedUrl(job, Number(expires) * 1000);
    if (presigned) {
      res.status(302).setHeader('Location', presigned);
      res.setHeader('Cache-Control', 'no-store');
      res.end();
      return;
    }
    await sendArchive(this.archives, job, req, res);
  }
}
