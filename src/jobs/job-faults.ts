import { Injectable } from '@nestjs/common';

/** What a test asks of the steps of one kind of job. */
export interface StepFaults<S extends string = string> {
  /** Every run of the kind fails when it reaches this step, until it is unset. */
  failAt?: S;
  /** Called as each step starts, so a test can act mid-run (hold the job, kill the process). */
  onStep?(step: S): void | Promise<void>;
}

/**
 * Lets tests make a job fail, or wait, at a named step of its kind, to prove that every failure
 * fails only that job, cleanly. Nothing in production sets it; a plain provider that a test
 * reaches through the running app: `app.get(JobFaults).of<RestoreStep>('restore').failAt = 'events'`.
 */
@Injectable()
export class JobFaults {
  private readonly kinds = new Map<string, StepFaults>();

  /** The faults of one kind of job, made on first use. */
  of<S extends string>(kind: string): StepFaults<S> {
    let faults = this.kinds.get(kind);
    if (!faults) this.kinds.set(kind, (faults = {}));
    return faults as StepFaults<S>;
  }

  /** Called by JobRunContext as a step starts; `noun` is what the kind calls its steps in the message. */
  async check(kind: string, step: string, noun: string): Promise<void> {
    const faults = this.kinds.get(kind);
    if (!faults) return;
    await faults.onStep?.(step);
    if (faults.failAt === step) throw new Error(`Injected failure at ${noun} "${step}"`);
  }
}
