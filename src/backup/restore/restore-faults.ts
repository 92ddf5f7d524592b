import { Injectable } from '@nestjs/common';
import type { RestoreStep } from './restore-job.js';

/**
 * Lets tests make a restore fail at a chosen step, to prove that every step cleans up. Nothing in
 * production sets it; it is a plain provider so a test can reach it through the running app.
 */
@Injectable()
export class RestoreFaults {
  failAt?: RestoreStep;
  /** Called when a step starts, so a test can act mid-restore (e.g. kill the process). */
  onStep?: (step: RestoreStep) => void | Promise<void>;

  async check(step: RestoreStep): Promise<void> {
    await this.onStep?.(step);
    if (this.failAt === step) throw new Error(`Injected failure at step "${step}"`);
  }
}
