import { Injectable } from '@nestjs/common';
import type { RollbackPreflight } from '../../contract/rollbacks.schemas.js';
import { AppStateDiffs } from '../shared/app-state-diffs.js';
import { reportedChanges } from './rollback-job.js';
import { RollbackPlanner } from './rollback-planner.js';
import { type RollbackRequest, RollbacksService } from './rollbacks.service.js';

/** A rollback's dry run (`POST …/rollback { …, dryRun: true }`): every check a rollback makes and its plan, writing nothing. */
@Injectable()
export class RollbackPreflightService {
  constructor(
    private readonly rollbacks: RollbacksService,
    private readonly planner: RollbackPlanner,
    private readonly diffs: AppStateDiffs,
  ) {}

  async check(app: { id: string; name: string }, request: RollbackRequest): Promise<RollbackPreflight> {
    const target = await this.rollbacks.resolveTarget(app, request);
    const plan = await this.planner.plan(app.id, target.position);
    const diff = await this.diffs.sincePosition(app.id, target.position);
    return { dryRun: true, app: { id: app.id, name: app.name }, target, changes: reportedChanges(plan.changes), counts: plan.counts, events: plan.events + 1, diff };
  }
}
