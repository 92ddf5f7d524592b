import { Controller, Get, Param } from '@nestjs/common';
import { AdminOnly } from '../../auth/access.decorator.js';
import { type RepositoryBackupList, RepositoryBackupsService } from './repository-backups.service.js';

/** The backups a repository holds, read from its copy manifests (`{id}` is a repository's id or name). Admins only. */
@Controller('api/repositories')
export class RepositoryBackupsController {
  constructor(private readonly backups: RepositoryBackupsService) {}

  @Get(':id/backups')
  @AdminOnly()
  list(@Param('id') id: string): Promise<RepositoryBackupList> {
    return this.backups.list(id);
  }
}
