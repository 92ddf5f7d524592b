import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { RepositoryRegistryService } from '../registry/repository-registry.service.js';

const DAY_MS = 24 * 3600 * 1000;

export interface SweepOutcome {
  repository: string;
  removed?: number;
  error?: string;
}

/**
 * Removes what killed uploads left in every repository (unfinished S3 multipart uploads, a
 * folder's temp files), at start-up and once a day, older than REPOSITORY_STALE_UPLOAD_MS (24 h):
 * another installation may share a repository, and its live uploads must not be touched. A
 * repository that is down is logged in words and left for the next round; start-up never waits
 * on it. `local` is left to the blob store, which clears its own partial writes.
 */
@Injectable()
export class StaleUploadSweeper implements OnApplicationShutdown {
  private readonly logger = new Logger('Repositories');
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepOutcome[]>;

  constructor(
    private readonly registry: RepositoryRegistryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Sweeps now in the background, then daily. */
  start(): void {
    if (this.timer) return;
    void this.sweepAll();
    this.timer = setInterval(() => void this.sweepAll(), DAY_MS);
    this.timer.unref();
  }

  /** One round over every repository; one at a time, so a slow one delays only the rest of the round. */
  sweepAll(): Promise<SweepOutcome[]> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async round(): Promise<SweepOutcome[]> {
    const outcomes: SweepOutcome[] = [];
    const age = this.config.repositoryStaleUploadMs;
    let records;
    try {
      records = await this.registry.allRecords();
    } catch (error) {
      this.logger.warn(`Could not read the repositories to sweep stale uploads: ${error instanceof Error ? error.message : String(error)}`);
      return outcomes;
    }
    for (const record of records) {
      try {
        const { store } = await this.registry.open(record.name);
        const removed = await store.sweepStaleUploads(age);
        outcomes.push({ repository: record.name, removed });
        const line = `Repository "${record.name}" (${store.location}): removed ${removed} unfinished upload${removed === 1 ? '' : 's'} older than ${describeAge(age)}`;
        if (removed > 0) this.logger.log(line);
        else this.logger.debug(line);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcomes.push({ repository: record.name, error: message });
        this.logger.warn(`Repository "${record.name}": could not sweep unfinished uploads (tried again in a day, or at the next start): ${message}`);
      }
    }
    return outcomes;
  }
}

function describeAge(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
