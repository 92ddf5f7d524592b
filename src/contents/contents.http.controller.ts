import { Body, Controller, createParamDecorator, Delete, type ExecutionContext, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { ContentCreateQuery as CreateQuery, ContentDataBody as DataBody, ContentListQuery as ListQuery, ContentStatusBody as StatusBody } from '../contract/contents.schemas.js';
import { appKey, type FindOptions } from '../infrastructure/read-store/read-store.port.js';
import { ANY_ROLE, AppAccess, WRITERS } from '../auth/access.decorator.js';
import type { AuthedRequest } from '../auth/access.guard.js';
import type { AppAccessInfo } from '../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../auth/current.decorators.js';
import type { Principal } from '../auth/principal.js';
import { invalid, notFound } from '../platform/domain-errors.js';
import { SchemasProjection } from '../schemas/schemas.projection.js';
import { ChangeContentStatusCommand, type ContentAddress, CreateContentCommand, DeleteContentCommand, UpdateContentCommand } from './content.commands.js';
import { type ContentDoc, ContentsProjection, type ContentView, toContentView } from './contents.projection.js';

/** Accepts the bare version (`3`) and the ETag form this API sends (`"3"`); `*` means any version. */
function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(ifMatch);
  if (!m) throw invalid(`If-Match: "${ifMatch}" is not a version; send the version you read, like If-Match: 3`);
  return Number(m[1]);
}

/**
 * The content a write names: the app AccessGuard resolved, the schema and id in the path, and the
 * version in If-Match. Only on AppAccess routes under `:schema/:id`.
 */
const Addressed = createParamDecorator((_: unknown, ctx: ExecutionContext): ContentAddress => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest & Request>();
  if (!req.appAccess) throw new Error('Addressed used on a route without AppAccess');
  const { schema, id } = req.params as { schema: string; id: string };
  return { appId: req.appAccess.id, schemaName: schema, contentId: id, expectedVersion: expectedVersion(req.header('if-match')) };
});

/** The ETag lets HTTP clients echo the version back in If-Match without reading the body. */
function answer(res: Response, content: ContentDoc): ContentView {
  res.setHeader('ETag', `"${content.version}"`);
  return toContentView(content);
}

@Controller('api/apps/:app/content/:schema')
export class ContentsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly projection: ContentsProjection,
    private readonly schemas: SchemasProjection,
  ) {}

  @Post()
  @HttpCode(201)
  @AppAccess(...WRITERS)
  async create(
    @CurrentApp() app: AppAccessInfo,
    @Param('schema') schema: string,
    @Query({ schema: CreateQuery }) query: z.infer<typeof CreateQuery>,
    @Body({ schema: DataBody }) body: z.infer<typeof DataBody>,
    @CurrentUser() caller: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ContentView> {
    const content = await this.commands.execute(new CreateContentCommand(app.id, schema, { data: body.data, publish: query.publish === 'true' }, caller.userId));
    return answer(res, content);
  }

  /** Newest first; `q` must match every word (as a prefix) somewhere in the data's texts and numbers. */
  @Get()
  @AppAccess(...ANY_ROLE)
  async list(@CurrentApp() app: AppAccessInfo, @Param('schema') schema: string, @Query({ schema: ListQuery }) query: z.infer<typeof ListQuery>): Promise<{ total: number; items: ContentView[] }> {
    const { id: schemaId } = await this.schemas.resolve(app.id, schema);
    const options: FindOptions = {
      // Ties go by key, descending too: the greater id first (see ReadStore's sort).
      sort: [{ field: 'created', direction: 'desc' }],
      top: query.top,
      skip: query.skip,
    };
    if (query.q !== undefined && query.q.trim() !== '') options.text = query.q;
    const page = await this.projection.contents.find({ appId: app.id, schemaId }, options);
    return { total: page.total, items: page.items.map(toContentView) };
  }

  @Get(':id')
  @AppAccess(...ANY_ROLE)
  async get(@CurrentApp() app: AppAccessInfo, @Param('schema') schema: string, @Param('id') id: string, @Res({ passthrough: true }) res: Response): Promise<ContentView> {
    const { id: schemaId } = await this.schemas.resolve(app.id, schema);
    const content = await this.projection.contents.get(appKey(app.id, id));
    if (!content || content.appId !== app.id || content.schemaId !== schemaId) throw notFound(`Content ${id} does not exist in schema "${schema}"`);
    return answer(res, content);
  }

  @Put(':id')
  @AppAccess(...WRITERS)
  async update(@Addressed() target: ContentAddress, @Body({ schema: DataBody }) body: z.infer<typeof DataBody>, @CurrentUser() caller: Principal, @Res({ passthrough: true }) res: Response): Promise<ContentView> {
    return answer(res, await this.commands.execute(new UpdateContentCommand(target, body.data, caller.userId)));
  }

  /** Honours If-Match like the data PUT does, so a client can publish exactly the version it reviewed. */
  @Put(':id/status')
  @AppAccess(...WRITERS)
  async changeStatus(@Addressed() target: ContentAddress, @Body({ schema: StatusBody }) body: z.infer<typeof StatusBody>, @CurrentUser() caller: Principal, @Res({ passthrough: true }) res: Response): Promise<ContentView> {
    return answer(res, await this.commands.execute(new ChangeContentStatusCommand(target, body.status, caller.userId)));
  }

  @Delete(':id')
  @HttpCode(204)
  @AppAccess(...WRITERS)
  async remove(@Addressed() target: ContentAddress, @CurrentUser() caller: Principal): Promise<void> {
    await this.commands.execute(new DeleteContentCommand(target, caller.userId));
  }
}
