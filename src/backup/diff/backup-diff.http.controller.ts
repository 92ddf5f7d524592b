import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp } from '../../auth/current.decorators.js';
import { type BackupDiff, DiffBody, type DiffComputing, DiffQuery } from '../../contract/diffs.schemas.js';
import { keysOf } from '../shared/request-keys.js';
import { BackupDiffService } from './backup-diff.service.js';

/**
 * What differs between a backup of the app and another backup of it or the live app (Owners,
 * Developers and admins, as for the app's other backup routes). GET for backups this installation
 * opens alone; POST takes the same request in a body with the key of an encrypted backup, since a
 * key never goes in a URL (proxies and access logs keep those). A diff not finished within
 * DIFF_WAIT_SECONDS answers 202 with `Retry-After`; the same request asked again reads it.
 */
@Controller('api/apps/:app/backups')
export class BackupDiffController {
  constructor(private readonly diffs: BackupDiffService) {}

  @Get(':id/diff')
  @AppAccess(...MAINTAINERS)
  async get(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Query({ schema: DiffQuery }) query: DiffQuery, @Res({ passthrough: true }) res: Response): Promise<BackupDiff | DiffComputing> {
    return answered(res, await this.diffs.diff(app, id, { ...query, keys: null }));
  }

  @Post(':id/diff')
  @HttpCode(200)
  @AppAccess(...MAINTAINERS)
  async post(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Body({ schema: DiffBody }) body: DiffBody, @Res({ passthrough: true }) res: Response): Promise<BackupDiff | DiffComputing> {
    const { identity, passphrase, ...request } = body;
    return answered(res, await this.diffs.diff(app, id, { ...request, keys: await keysOf({ identity, passphrase }) }));
  }
}

/** 202 with `Retry-After` for a diff still being computed; 200 for a page. */
function answered(res: Response, answer: BackupDiff | DiffComputing): BackupDiff | DiffComputing {
  if ('status' in answer) {
    res.status(202);
    res.setHeader('Retry-After', String(answer.retryAfterSeconds));
  }
  return answer;
}
