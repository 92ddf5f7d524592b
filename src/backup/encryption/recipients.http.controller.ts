import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { z } from 'zod';
import { RecipientBody } from '../../contract/encryption.schemas.js';
import { AdminOnly, AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { InstallationService } from '../shared/installation.service.js';
import { BackupRecipients } from './backup-recipients.service.js';

/** Recipients for every app's backups (admins). */
@Controller('api/recipients')
export class InstallationRecipientsController {
  constructor(private readonly recipients: BackupRecipients) {}

  @Get()
  @AdminOnly()
  async list() {
    return { items: await this.recipients.list({ kind: 'installation' }) };
  }

  @Post()
  @AdminOnly()
  add(@Body({ schema: RecipientBody }) body: z.infer<typeof RecipientBody>, @CurrentUser() caller: Principal) {
    return this.recipients.add({ kind: 'installation' }, body, caller.userId);
  }

  @Delete(':name')
  @HttpCode(204)
  @AdminOnly()
  async remove(@Param('name') name: string): Promise<void> {
    await this.recipients.remove({ kind: 'installation' }, name);
  }
}

/** Recipients for one app's backups: its Owners configure them, its Developers see what they may name. */
@Controller('api/apps/:app/recipients')
export class AppRecipientsController {
  constructor(private readonly recipients: BackupRecipients) {}

  @Get()
  @AppAccess(...MAINTAINERS)
  async list(@CurrentApp() app: AppAccessInfo) {
    return { items: await this.recipients.list({ kind: 'app', appId: app.id, appName: app.name }) };
  }

  @Post()
  @AppAccess('Owner')
  add(@CurrentApp() app: AppAccessInfo, @Body({ schema: RecipientBody }) body: z.infer<typeof RecipientBody>, @CurrentUser() caller: Principal) {
    return this.recipients.add({ kind: 'app', appId: app.id, appName: app.name }, body, caller.userId);
  }

  @Delete(':name')
  @HttpCode(204)
  @AppAccess('Owner')
  async remove(@CurrentApp() app: AppAccessInfo, @Param('name') name: string): Promise<void> {
    await this.recipients.remove({ kind: 'app', appId: app.id, appName: app.name }, name);
  }
}

/** This installation's own public key, for a source installation to encrypt a migration to (admins). */
@Controller('api/installation/recipient')
export class InstallationRecipientController {
  constructor(private readonly installation: InstallationService) {}

  @Get()
  @AdminOnly()
  async get() {
    return { recipient: await this.installation.recipient() };
  }
}
