import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import type { z } from 'zod';
import { CreateRepositoryBody, type Repository, type RepositoryCheck, UpdateRepositoryBody } from '../../contract/repositories.schemas.js';
import { AdminOnly } from '../../platform/auth/access.decorator.js';
import { CurrentUser } from '../../platform/auth/current.decorators.js';
import type { Principal } from '../../platform/auth/principal.js';
import { type RepositoryBackupList, RepositoryBackupsService } from '../listing/repository-backups.service.js';
import { RepositoriesService } from './repositories.service.js';

/** `{id}` takes a repository's id or its name (`local` included). Admins only: repositories hold every app's backups. */
@Controller('api/repositories')
export class RepositoriesController {
  constructor(
    private readonly repositories: RepositoriesService,
    private readonly backups: RepositoryBackupsService,
  ) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  create(@Body({ schema: CreateRepositoryBody }) body: z.infer<typeof CreateRepositoryBody>, @CurrentUser() caller: Principal): Promise<Repository> {
    return this.repositories.create(body, caller.userId);
  }

  @Get()
  @AdminOnly()
  async list(): Promise<{ items: Repository[] }> {
    return { items: await this.repositories.list() };
  }

  @Get(':id')
  @AdminOnly()
  get(@Param('id') id: string): Promise<Repository> {
    return this.repositories.get(id);
  }

  @Put(':id')
  @AdminOnly()
  update(@Param('id') id: string, @Body({ schema: UpdateRepositoryBody }) body: z.infer<typeof UpdateRepositoryBody>, @CurrentUser() caller: Principal): Promise<Repository> {
    return this.repositories.update(id, body, caller.userId);
  }

  @Delete(':id')
  @HttpCode(204)
  @AdminOnly()
  async remove(@Param('id') id: string): Promise<void> {
    await this.repositories.remove(id);
  }

  @Post(':id/check')
  @HttpCode(200)
  @AdminOnly()
  check(@Param('id') id: string): Promise<RepositoryCheck> {
    return this.repositories.check(id);
  }

  @Get(':id/backups')
  @AdminOnly()
  listBackups(@Param('id') id: string): Promise<RepositoryBackupList> {
    return this.backups.list(id);
  }
}
