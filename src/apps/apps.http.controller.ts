import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { z } from 'zod';
import { type App, ContributorBody, CreateAppBody, HistoryQuery, UpdateAppBody } from '../contract/apps.schemas.js';
import { EVENT_STORE, type EventStore, type HistoryCursor, InvalidCursorError } from '../infrastructure/event-store/event-store.port.js';
import type { Filter } from '../infrastructure/read-store/read-store.port.js';
import { AppAccess, Authenticated, MAINTAINERS, ANY_ROLE } from '../auth/access.decorator.js';
import type { AppAccessInfo } from '../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../auth/current.decorators.js';
import type { Principal } from '../auth/principal.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { invalid } from '../platform/domain-errors.js';
import { type Page, PageQuery } from '../contract/paging.schemas.js';
import { type AppDoc, AppsProjection } from './apps.projection.js';
import { AssignContributorCommand, CreateAppCommand, DeleteAppCommand, RemoveContributorCommand, UpdateAppCommand } from './app.commands.js';

function historyCursor(query: z.infer<typeof HistoryQuery>): HistoryCursor {
  if (!query.cursor) return { number: query.after };
  const [number, position] = query.cursor.split('.').map(Number) as [number, number];
  return { number, position };
}

export type AppView = App;
const toView = ({ contributorIds: _ids, ...app }: AppDoc): AppView => app;

@Controller('api/apps')
export class AppsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly projection: AppsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly catalog: EventCatalog,
  ) {}

  @Post()
  @HttpCode(201)
  @Authenticated()
  async create(@Body({ schema: CreateAppBody }) body: z.infer<typeof CreateAppBody>, @CurrentUser() caller: Principal): Promise<AppView> {
    return toView(await this.commands.execute(new CreateAppCommand(body, caller.userId)));
  }

  @Get()
  @Authenticated()
  async list(@CurrentUser() caller: Principal, @Query({ schema: PageQuery }) page: Page): Promise<{ total: number; items: AppView[] }> {
    const filter: Filter = caller.admin ? {} : { contributorIds: { $contains: caller.userId } };
    const found = await this.projection.apps.find(filter, { sort: [{ field: 'name', direction: 'asc' }], ...page });
    return { total: found.total, items: found.items.map(toView) };
  }

  @Get(':app')
  @AppAccess(...ANY_ROLE)
  async get(@CurrentApp() app: AppAccessInfo): Promise<AppView> {
    return toView(await this.load(app.id));
  }

  @Put(':app')
  @AppAccess(...MAINTAINERS)
  async update(@CurrentApp() app: AppAccessInfo, @Body({ schema: UpdateAppBody }) body: z.infer<typeof UpdateAppBody>, @CurrentUser() caller: Principal): Promise<AppView> {
    return toView(await this.commands.execute(new UpdateAppCommand(app.id, body, caller.userId)));
  }

  @Delete(':app')
  @HttpCode(204)
  @AppAccess('Owner')
  async remove(@CurrentApp() app: AppAccessInfo, @CurrentUser() caller: Principal): Promise<void> {
    await this.commands.execute(new DeleteAppCommand(app.id, caller.userId));
  }

  /** Answers 200 with the updated App: it changes the app rather than creating a resource. */
  @Post(':app/contributors')
  @HttpCode(200)
  @AppAccess('Owner')
  async assign(@CurrentApp() app: AppAccessInfo, @Body({ schema: ContributorBody }) body: z.infer<typeof ContributorBody>, @CurrentUser() caller: Principal): Promise<AppView> {
    return toView(await this.commands.execute(new AssignContributorCommand(app.id, body, caller.userId)));
  }

  @Delete(':app/contributors/:userId')
  @AppAccess('Owner')
  async unassign(@CurrentApp() app: AppAccessInfo, @Param('userId') userId: string, @CurrentUser() caller: Principal): Promise<AppView> {
    return toView(await this.commands.execute(new RemoveContributorCommand(app.id, userId, caller.userId)));
  }

  /** The app's own events in the order they happened, numbered from 1 within the app; any page costs the same. */
  @Get(':app/events')
  @AppAccess(...MAINTAINERS)
  async history(@CurrentApp() app: AppAccessInfo, @Query({ schema: HistoryQuery }) query: z.infer<typeof HistoryQuery>) {
    const stored = await this.store.readAppPage(app.id, historyCursor(query), query.take).catch((error: unknown) => {
      throw error instanceof InvalidCursorError ? invalid(`cursor: ${error.message}`) : error;
    });
    const page = stored.map((e) => this.catalog.upcast(e));
    const last = page.at(-1);
    return {
      items: page.map((e) => ({ number: e.number, stream: e.stream, type: e.type, data: e.data, actor: e.metadata.actor, timestamp: e.metadata.timestamp })),
      // A full page may have more after it: pass this as `cursor` for the next one.
      ...(last && page.length === query.take ? { next: `${last.number}.${last.position}` } : {}),
    };
  }

  private async load(appId: string): Promise<AppDoc> {
    const app = await this.projection.apps.get(appId);
    if (!app) throw new Error(`App ${appId} passed the access check but is not projected`);
    return app;
  }
}
