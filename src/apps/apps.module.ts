import { Module, type OnModuleInit } from '@nestjs/common';
import { appStream } from './app.aggregate.js';
import { APP_DIRECTORY, type AppAccessInfo, type AppDirectory } from '../auth/auth.ports.js';
import { UsersModule } from '../users/users.module.js';
import { AppsController } from './apps.http.controller.js';
import { type AppDoc, AppsProjection } from './apps.projection.js';
import { appsParticipant } from './apps.participant.js';
import { DomainRegistrar } from '../eventsourcing/domain-registrar.service.js';
import { ArchiveParticipants } from '../archive/archive-participant.port.js';
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
    private readonly domain: DomainRegistrar,
    private readonly projection: AppsProjection,
    private readonly planner: AppCommandPlanner,
    private readonly participants: ArchiveParticipants,
  ) {}

  onModuleInit(): void {
    this.domain.register({ stream: appStream, projection: this.projection, planner: this.planner });
    this.participants.register(appsParticipant);
  }
}
