import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp } from '../../auth/current.decorators.js';
import { type BackupDiff, DiffBody, DiffQuery } from '../../contract/diffs.schemas.js';
import { keysOf } from '../shared/request-keys.js';
import { BackupDiffService } from './backup-diff.service.js';

/**
 * What differs between a backup of the app and another backup of it or the live app (Owners,
 * Developers and admins, as for the app's other backup routes). GET for backups this installation
 * opens alone; POST takes the same request in a body with the key of an encrypted backup, since a
 * key never goes in a URL (proxies and access logs keep those).
 */
@Controller('api/apps/:app/backups')
export class BackupDiffController {
  constructor(private readonly diffs: BackupDiffService) {}

  @Get(':id/diff')
  @AppAccess(...MAINTAINERS)
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Query({ schema: DiffQuery }) query: DiffQuery): Promise<BackupDiff> {
    return this.diffs.diff(app, id, { ...query, keys: null });
  }

  @Post(':id/diff')
  @HttpCode(200)
  @AppAccess(...MAINTAINERS)
  async post(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Body({ schema: DiffBody }) body: DiffBody): Promise<BackupDiff> {
    const { identity, passphrase, ...request } = body;
    return this.diffs.diff(app, id, { ...request, keys: await keysOf({ identity, passphrase }) });
  }
}
