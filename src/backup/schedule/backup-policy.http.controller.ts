import { Body, Controller, Delete, Get, HttpCode, Inject, Put } from '@nestjs/common';
import type { z } from 'zod';
import { BackupPolicyBody as PolicyBody, type BackupPolicy as PolicyView } from '../../contract/policies.schemas.js';
import { AppAccess, MAINTAINERS } from '../../auth/access.decorator.js';
import type { AppAccessInfo } from '../../auth/auth.ports.js';
import { CurrentApp, CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { normalizeSelection } from '../shared/backup-selection.js';
import { targetsOf } from '../shared/backup-job.js';
import { BackupPoliciesService } from './backup-policies.service.js';
import { type BackupPolicy, fullEveryOf } from './backup-policy.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { parseSchedule } from './cron.js';

/** The contract's body, with the cron expression checked here, where croner is. */
const BackupPolicyBody = PolicyBody.extend({
  schedule: PolicyBody.shape.schedule.superRefine((value, ctx) => {
    const parsed = parseSchedule(value);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  }),
});

/** The public shape of a policy: who last set it stays out; `fullEvery` is what its incremental rule comes to on this installation. */
const toView = ({ updatedBy: _updatedBy, id: _id, ...policy }: BackupPolicy, installationMaxIncrements: number): PolicyView => ({
  include: null,
  keepLast: null,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  objectLock: null,
  lastWarning: null,
  encryption: null,
  incremental: null,
  ...policy,
  repositories: targetsOf(policy),
  fullEvery: fullEveryOf(policy.incremental, installationMaxIncrements),
});

@Controller('api/apps/:app/backup-policy')
export class BackupPolicyController {
  constructor(
    private readonly policies: BackupPoliciesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Put()
  @AppAccess(...MAINTAINERS)
  async put(@CurrentApp() app: AppAccessInfo, @Body({ schema: BackupPolicyBody }) body: z.infer<typeof BackupPolicyBody>, @CurrentUser() caller: Principal) {
    return toView(await this.policies.put(app, { ...body, include: normalizeSelection(body.include), credentials: body.include?.credentials === true }, caller.userId), this.config.maxIncrementalChain);
  }

  @Get()
  @AppAccess(...MAINTAINERS)
  async get(@CurrentApp() app: AppAccessInfo) {
    return toView(await this.policies.get(app.id, app.name), this.config.maxIncrementalChain);
  }

  @Delete()
  @HttpCode(204)
  @AppAccess(...MAINTAINERS)
  async remove(@CurrentApp() app: AppAccessInfo): Promise<void> {
    await this.policies.delete(app.id, app.name);
  }
}
