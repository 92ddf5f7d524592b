import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import type { z } from 'zod';
import { VerifyBackupBody } from '../../contract/backups.schemas.js';
import { AdminOnly, AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp } from '../../auth/current.decorators.js';
import { toView } from '../create/backups.http.controller.js';
import { BackupVerifier } from './backup-verifier.service.js';

@Controller('api/apps/:app/backups')
export class AppBackupVerifyController {
  constructor(private readonly verifier: BackupVerifier) {}

  @Post(':id/verify')
  @HttpCode(200)
  @AppAccess(...MAINTAINERS)
  async verify(@CurrentApp() app: AppAccessInfo, @Param('id') id: string, @Body({ schema: VerifyBackupBody }) body: z.infer<typeof VerifyBackupBody>) {
    return toView(await this.verifier.verify(id, app.id, body.readData ?? false));
  }
}

@Controller('api/backups')
export class AdminBackupVerifyController {
  constructor(private readonly verifier: BackupVerifier) {}

  @Post(':id/verify')
  @HttpCode(200)
  @AdminOnly()
  async verify(@Param('id') id: string, @Body({ schema: VerifyBackupBody }) body: z.infer<typeof VerifyBackupBody>) {
    return toView(await this.verifier.verify(id, undefined, body.readData ?? false));
  }
}
