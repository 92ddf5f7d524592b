import type { Claim } from '../../infrastructure/name-index/name-index.port.js';
import type { JobRecord } from '../../jobs/job-record.js';
import type { JobSlot } from '../../jobs/job-runner.port.js';

/** A job that works on one app. */
export interface AppJob extends JobRecord {
  appId: string;
  appName: string;
}

/**
 * What runners of jobs that work on one app (backups, rollbacks) share: one job of the kind per
 * app at a time (the app's slot of that kind), and the app's name in the 409 and in logs.
 */
export abstract class AppJobRunner<J extends AppJob> {
  abstract readonly kind: string;
  /** The app's slot of this kind (a claim in the shared claims). */
  protected abstract readonly slotOf: (appId: string) => Claim;

  slot(job: J): JobSlot {
    return { claim: this.slotOf(job.appId), busy: `A ${this.kind} of app "${job.appName}" is already running; wait for it to finish` };
  }

  /** "Backup 42 of app shop". */
  describe(job: J): string {
    return `${this.kind.charAt(0).toUpperCase()}${this.kind.slice(1)} ${job.id} of app ${job.appName}`;
  }
}
