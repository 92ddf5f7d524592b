import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { z } from 'zod';
import { AdminOnly, Authenticated } from '../auth/access.decorator.js';
import { CurrentUser } from '../auth/current.decorators.js';
import type { Principal } from '../auth/principal.js';
import { PageQuery, type Page } from '../contract/paging.schemas.js';
import { CreateUserBody } from '../contract/users.schemas.js';
import { CreateUserCommand, IssueApiKeyCommand } from './user.commands.js';
import { toUserView, UsersService, type UserView } from './users.service.js';

@Controller('api/users')
export class UsersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly users: UsersService,
  ) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  async create(@Body({ schema: CreateUserBody }) body: z.infer<typeof CreateUserBody>, @CurrentUser() caller: Principal): Promise<UserView & { apiKey?: string }> {
    const { user, apiKey } = await this.commands.execute(new CreateUserCommand(body, caller.userId));
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
    const { apiKey } = await this.commands.execute(new IssueApiKeyCommand(caller.userId, caller.userId));
    return { apiKey };
  }

  /** Issues or rotates any user's key, e.g. for a user a restore created without one. */
  @Post(':id/api-key')
  @HttpCode(201)
  @AdminOnly()
  async rotateKey(@Param('id') id: string, @CurrentUser() caller: Principal): Promise<{ apiKey: string }> {
    const { apiKey } = await this.commands.execute(new IssueApiKeyCommand(id, caller.userId));
    return { apiKey };
  }

  @Get('me')
  @Authenticated()
  me(@CurrentUser() caller: Principal): UserView {
    return { id: caller.userId, email: caller.email, displayName: caller.displayName, admin: caller.admin };
  }
}
