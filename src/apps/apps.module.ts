import { Module, type OnModuleInit } from '@nestjs/common';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { appStream } from './app.aggregate.js';
import { APP_DIRECTORY, type AppAccessInfo, type AppDirectory } from '../auth/auth.ports.js';
import { ProjectionEngine } from '../eventsourcing/projection-engine.service.js';
import { UsersModule } from '../users/users.module.js';
import { AppsController } from './apps.http.controller.js';
import { type AppDoc, AppsProjection } from './apps.projection.js';
import { appsParticipant } from './apps.participant.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
import { StreamCommandHandler } from '../eventsourcing/stream-command.handler.js';
import { AppCommandPlanner } from './app.commands.js';

const accessInfo = (app: AppDoc | undefined): AppAccessInfo | undefined =>
  app ? { id: app.id, name: app.name, contributors: app.contributors.map(({ userId, role }) => ({ userId, role })) } : undefined;

const appDirectory = {
  provide: APP_DIRECTORY,
  inject: [AppsProjection],
  useFactory: (projection: AppsProjection): AppDirectory => ({
    findByName: async (name) => accessInfo(await projection.apps.findOne({ name })),
    findById: async (id) => accessInfo(await projection.apps.get(id)),
    async appsOf(userId: string): Promise<string[]> {
      const ids: string[] = [];
      for await (const app of projection.apps.iterate({ contributorIds: { $contains: userId } })) ids.push(app.id);
      return ids;
    },
  }),
};

@Module({
  imports: [UsersModule],
  controllers: [AppsController],
  providers: [AppsProjection, AppCommandPlanner, appDirectory],
  exports: [AppsProjection, APP_DIRECTORY],
})
export class AppsModule implements OnModuleInit {
  constructor(
    private readonly projections: ProjectionEngine,
    private readonly projection: AppsProjection,
    private readonly participants: ArchiveParticipants,
    private readonly catalog: EventCatalog,
    private readonly commands: StreamCommandHandler,
    private readonly planner: AppCommandPlanner,
  ) {}

  onModuleInit(): void {
    this.catalog.register(appStream);
    this.projections.register(this.projection);
    this.participants.register(appsParticipant);
    this.commands.register(this.planner);
  }
}
