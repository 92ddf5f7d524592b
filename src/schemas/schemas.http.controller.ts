import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { z } from 'zod';
import { CreateSchemaBody, FieldBody } from '../contract/app-schemas.schemas.js';
import { ANY_ROLE, AppAccess, MAINTAINERS } from '../auth/access.decorator.js';
import type { AppAccessInfo } from '../auth/auth.ports.js';
import { type Page, PageQuery } from '../contract/paging.schemas.js';
import { CurrentApp, CurrentUser } from '../auth/current.decorators.js';
import type { Principal } from '../auth/principal.js';
import { AddSchemaFieldCommand, CreateSchemaCommand, DeleteSchemaCommand } from './schema.commands.js';
import { SchemasProjection, type SchemaView, toSchemaView } from './schemas.projection.js';

@Controller('api/apps/:app/schemas')
export class SchemasController {
  constructor(
    private readonly commands: CommandBus,
    private readonly projection: SchemasProjection,
  ) {}

  @Post()
  @HttpCode(201)
  @AppAccess(...MAINTAINERS)
  async create(@CurrentApp() app: AppAccessInfo, @Body({ schema: CreateSchemaBody }) body: z.infer<typeof CreateSchemaBody>, @CurrentUser() caller: Principal): Promise<SchemaView> {
    return toSchemaView(await this.commands.execute(new CreateSchemaCommand(app.id, body, caller.userId)));
  }

  @Get()
  @AppAccess(...ANY_ROLE)
  async list(@CurrentApp() app: AppAccessInfo, @Query({ schema: PageQuery }) page: Page): Promise<{ total: number; items: SchemaView[] }> {
    const found = await this.projection.schemas.find({ appId: app.id }, { sort: [{ field: 'name', direction: 'asc' }], ...page });
    return { total: found.total, items: found.items.map(toSchemaView) };
  }

  @Get(':schema')
  @AppAccess(...ANY_ROLE)
  async get(@CurrentApp() app: AppAccessInfo, @Param('schema') name: string): Promise<SchemaView> {
    return toSchemaView(await this.projection.resolve(app.id, name));
  }

  /** Answers 200 with the whole Schema: it changes the schema rather than creating a resource of its own. */
  @Post(':schema/fields')
  @HttpCode(200)
  @AppAccess(...MAINTAINERS)
  async addField(
    @CurrentApp() app: AppAccessInfo,
    @Param('schema') name: string,
    @Body({ schema: FieldBody }) body: z.infer<typeof FieldBody>,
    @CurrentUser() caller: Principal,
  ): Promise<SchemaView> {
    return toSchemaView(await this.commands.execute(new AddSchemaFieldCommand(app.id, name, body, caller.userId)));
  }

  @Delete(':schema')
  @HttpCode(204)
  @AppAccess(...MAINTAINERS)
  async remove(@CurrentApp() app: AppAccessInfo, @Param('schema') name: string, @CurrentUser() caller: Principal): Promise<void> {
    await this.commands.execute(new DeleteSchemaCommand(app.id, name, caller.userId));
  }
}
