import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

/** A secret a job holds: it can be overwritten once the job is done with it. */
export interface JobSecret {
  dispose(): void;
}

/** A secret nobody took within this time belongs to a job that never started here: it is disposed. */
const UNCLAIMED_MS = 10 * 60 * 1000;

/**
 * Secrets a request hands to the job it starts (the key that opens an archive, the passphrase a
 * backup is encrypted with), kept in this process's memory only: never in the job record, which
 * every process reads and which outlives the job, nor in a log or an answer. The request holds one
 * under the job's id before it submits the job; the run takes it and disposes of it when it ends
 * (JobRunContext.onEnd). A job another process runs (a hand-off) or one settled after a crash can
 * never have it: its runner must refuse such jobs or do without.
 */
@Injectable()
export class JobSecrets implements OnApplicationShutdown {
  private readonly held = new Map<string, { secret: JobSecret; expiry: NodeJS.Timeout }>();

  hold(jobId: string, secret: JobSecret): void {
    this.drop(jobId);
    const expiry = setTimeout(() => this.drop(jobId), UNCLAIMED_MS);
    expiry.unref();
    this.held.set(jobId, { secret, expiry });
  }

  /** The job's secret, now the caller's to dispose of; undefined when none was handed to this process. */
  take<S extends JobSecret>(jobId: string): S | undefined {
    const entry = this.held.get(jobId);
    if (!entry) return undefined;
    clearTimeout(entry.expiry);
    this.held.delete(jobId);
    return entry.secret as S;
  }

  /** Disposes of a secret its job will not take (the request was refused). */
  drop(jobId: string): void {
    this.take(jobId)?.dispose();
  }

  onApplicationShutdown(): void {
    for (const jobId of [...this.held.keys()]) this.drop(jobId);
  }
}
