/**
 * Why a resumable job's signal was aborted when the server stops (SIGTERM, a deadline): the job
 * ends Interrupted, keeping what it holds, instead of Failed and cleaned up.
 */
export class JobInterruption extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobInterruption';
  }
}

/** Whether `signal` was aborted by a stop of the server (see JobInterruption). */
export function interruptedBy(signal: AbortSignal | undefined): JobInterruption | undefined {
  return signal?.aborted && signal.reason instanceof JobInterruption ? signal.reason : undefined;
}
