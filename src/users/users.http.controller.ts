import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import type { z } from 'zod';
import { AdminOnly, Authenticated } from '../platform/auth/access.decorator.js';
import { CurrentUser } from '../platform/auth/current.decorators.js';
import type { Principal } from '../platform/auth/principal.js';
import { PageQuery, type Page } from '../contract/paging.schemas.js';
import { CreateUserBody } from '../contract/users.schemas.js';
import { toUserView, UsersService, type UserView } from './users.service.js';

@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  async create(@Body({ schema: CreateUserBody }) body: z.infer<typeof CreateUserBody>, @CurrentUser() caller: Principal): Promise<UserView & { apiKey?: string }> {
    const { user, apiKey } = await this.users.create(body, caller.userId);
    return { ...toUserView(user), ...(apiKey ? { apiKey } : {}) };
  }

  @Get()
  @AdminOnly()
  async list(@Query({ schema: PageQuery }) page: Page): Promise<{ total: number; items: UserView[] }> {
    return this.users.list(page);
  }

  /** A new key for the caller; the one this request used stops working at once. */
  @Post('me/api-key')
  @HttpCode(201)
  @Authenticated()
  async rotateOwnKey(@CurrentUser() caller: Principal): Promise<{ apiKey: string }> {
    return { apiKey: await this.users.rotateApiKey(caller.userId, caller.userId) };
  }

  /** Issues or rotates any user's key, e.g. for a user a restore created without one. */
  @Post(':id/api-key')
  @HttpCode(201)
  @AdminOnly()
  async rotateKey(@Param('id') id: string, @CurrentUser() caller: Principal): Promise<{ apiKey: string }> {
    return { apiKey: await this.users.rotateApiKey(id, caller.userId) };
  }

  @Get('me')
  @Authenticated()
  me(@CurrentUser() caller: Principal): UserView {
    return { id: caller.userId, email: caller.email, displayName: caller.displayName, admin: caller.admin };
  }
}
