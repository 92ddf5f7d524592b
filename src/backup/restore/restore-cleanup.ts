import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { tempDirOf } from './archive-source.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { AppReplays } from '../../eventsourcing/app-replays.service.js';
import { endedJob } from '../../jobs/job-record.js';
import { ArchiveParticipants } from '../../archive/archive-participant.port.js';
import type { RestoreJob } from './restore-job.js';

/** The fields that hold something of a restore's until it ends; cleared once it has. */
export const RELEASED = { nameToken: null, archiveFile: null, stagedArchive: null } as const;

/**
 * What a failed, interrupted or never-started restore leaves behind, removed: the new app's
 * events, read models and what the participants wrote for it (the users it created), its name and its
 * archive. A restore leaves nothing of the new app, and frees its name.
 */
@Injectable()
export class RestoreCleanup {
  private readonly logger = new Logger(RestoreCleanup.name);

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    private readonly replays: AppReplays,
    private readonly participants: ArchiveParticipants,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Removes everything the restore (`current`: as it last stood) may have written for its new app, then frees the name. */
  async remove(current: RestoreJob, log: (message: string) => unknown = () => undefined): Promise<void> {
    const appId = current.appId;
    if (appId) {
      for (const participant of this.participants.all) {
        try {
          await participant.cleanup?.({ targetAppId: appId, log: (m) => void log(m), remembered: (key) => current.cleanup?.[key] ?? [] });
        } catch (error) {
          this.logger.error(`Cleanup by ${participant.name} of restored app ${appId} failed: ${String(error)}`);
        }
      }
      await this.replays.purgeApp(appId);
      await log(`Removed the events and read models of app ${appId}`);
    }
    if (current.name && current.nameToken) await this.names.release(claims.appName(current.name), current.nameToken);
    if (current.archiveFile) await rm(current.archiveFile, { force: true });
    // What a fetch cut short left in DATA_DIR/tmp (a partial download, a decrypted copy) is named after the job.
    for (const name of await readdir(tempDirOf(this.config)).catch(() => [] as string[])) if (name.includes(current.id)) await rm(join(tempDirOf(this.config), name), { force: true });
    if (current.stagedArchive) await this.blobs.delete(current.stagedArchive);
  }

  /**
   * A restore whose process died: complete if it committed the name to the new app just before;
   * otherwise what it wrote is removed, its name freed, and it is Failed.
   */
  async settle(job: RestoreJob): Promise<RestoreJob> {
    const completed = await this.completedBeforeCrash(job);
    if (completed) return completed;
    await this.remove(job);
    const error = 'The server stopped while this restore was running; nothing of the new app was kept and its name is free again. Start the restore again.';
    return { ...endedJob(job, 'Failed', { error, line: 'The server stopped during this restore; removing everything it wrote' }), ...RELEASED, slotToken: null };
  }

  /** A job accepted but never started: nothing of the app was written; frees its name and staged upload. */
  async failAccepted(job: RestoreJob, message: string): Promise<RestoreJob> {
    await this.remove(job);
    return { ...endedJob(job, 'Failed', { error: message, line: `Failed: ${message}` }), ...RELEASED, slotToken: null };
  }

  /** A restore whose process died right after it committed the name to its new app: that restore, Completed; else undefined. */
  async completedBeforeCrash(job: RestoreJob): Promise<RestoreJob | undefined> {
    if (!job.name || !job.appId) return undefined;
    const entry = await this.names.lookup(claims.appName(job.name));
    if (entry?.state !== 'committed' || entry.owner !== job.appId) return undefined;
    if (job.archiveFile) await rm(job.archiveFile, { force: true });
    const total = job.untilEvent ?? job.eventCount;
    const done = endedJob(job, 'Completed', { line: 'The server stopped right after the restore committed the name; the restore is complete' });
    return { ...done, progress: { done: total, total, unit: 'events' }, nameToken: null, archiveFile: null, journal: null };
  }

  /**
   * An Interrupted restore an administrator does not want: removed as a failed one is (its app's
   * events, read models and files, the users it created, its name, its archive), then Failed.
   */
  async cancel(job: RestoreJob, by: string): Promise<RestoreJob> {
    await this.remove(job);
    const error = `Cancelled by ${by} while Interrupted; nothing of the new app was kept and its name is free again`;
    return { ...endedJob(job, 'Failed', { error, line: error }), ...RELEASED, slotToken: null, journal: null };
  }
}
