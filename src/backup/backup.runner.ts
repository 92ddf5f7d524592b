import { Inject, Injectable, Logger } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '../infrastructure/event-store/event-store.port.js';
import { BLOB_STORE, type BlobStore } from '../infrastructure/blob-store/blob-store.port.js';
import { SYSTEM_ACTOR } from '../platform/auth/principal.js';
import { EventCatalog } from '../platform/events/event-catalog.service.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import type { ArchivedEvent, BackupContext } from './backup-handler.port.js';
import { BackupFaults } from './backup-faults.js';
import { BackupHandlerRegistry } from './backup-handler.registry.js';
import { archiveKey, type BackupJob } from './backup-job.js';
import { EVENT_FILE_MAX_BYTES, EVENTS_PER_FILE, eventFileName, FORMAT_NAME, FORMAT_VERSION, type Manifest } from './archive/archive-format.js';
import { ArchiveWriter } from './archive/archive-writer.js';
import { InstallationService } from './installation.service.js';
import { type JobProgress, type PhasePlan, ProgressMeter } from './job-progress.js';

export interface BackupResult {
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number;
  sha256: string;
  warnings: string[];
  /** The job's progress at the end: done, every event counted. */
  final: JobProgress;
}

export type ProgressListener = (progress: { eventCount: number; assetCount: number } & JobProgress) => Promise<void>;

/** A backup's phases and their share of its time: events (and the files they name) dominate. */
type BackupPhase = 'events' | 'users' | 'finishing';
const BACKUP_PHASES: PhasePlan<BackupPhase> = { events: [0, 95], users: [95, 97], finishing: [97, 100] };

/**
 * Streams one app into an archive in the archive store. The app is taken as of the store position
 * when the run starts, so writes that go on meanwhile are either wholly in (before) or wholly out.
 */
@Injectable()
export class BackupRunner {
  private readonly logger = new Logger(BackupRunner.name);

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly handlers: BackupHandlerRegistry,
    private readonly installation: InstallationService,
    private readonly catalog: EventCatalog,
    private readonly faults: BackupFaults,
  ) {}

  /** `signal` stops the run at its next event (a shutdown); what was written so far is removed. */
  async run(job: BackupJob, signal: AbortSignal, onProgress: ProgressListener): Promise<BackupResult> {
    const position = await this.store.headPosition();
    // The exact total: the app's events as of the position this backup takes it at.
    const meter = new ProgressMeter<BackupPhase>(BACKUP_PHASES, 'events', await this.store.countApp(job.appId, position));
    const writer = new ArchiveWriter(new Date(job.created));
    const key = archiveKey(job.id);
    const upload = this.blobs.put(key, writer.output);
    // If the archive store fails, stop producing entries at once instead of filling memory.
    upload.catch((error: unknown) => writer.abort(error instanceof Error ? error : new Error(String(error))));

    const warnings: string[] = [];
    const missing: Manifest['missing'] = [];
    const mentioned = new Set<string>();
    const context: BackupContext = {
      appId: job.appId,
      addEntry: (name, open, options) =>
        writer.addEntry(
          name,
          async () => {
            this.faults.check('entry');
            return open();
          },
          options,
        ),
      mentionUser: (userId) => {
        if (userId && userId !== SYSTEM_ACTOR) mentioned.add(userId);
      },
      mentionedUsers: mentioned,
      warn: (message) => {
        if (warnings.length < 1000) warnings.push(message);
      },
      missing: (name, reason) => {
        missing.push({ name, reason });
        context.warn(`${name} is missing from the archive: ${reason}`);
      },
      counts: { assets: 0, users: 0 },
    };

    let eventCount = 0;
    const report = () => onProgress({ eventCount, assetCount: context.counts.assets, ...meter.snapshot() });
    try {
      let fileIndex = 0;
      let batch: ArchivedEvent[] = [];
      let lines: string[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        fileIndex += 1;
        await writer.addBuffer(eventFileName(fileIndex), Buffer.from(lines.join(''), 'utf8'), { compress: true });
        for (const handler of this.handlers.all) await handler.backupEvents?.(batch, context);
        batch = [];
        lines = [];
        bytes = 0;
        meter.count(eventCount);
        meter.within(eventCount / Math.max(1, meter.snapshot().progress.total));
        await report();
      };

      this.faults.check('events');
      const slicer = new TimeSlicer();
      for await (const stored of this.store.readApp(job.appId, { until: position })) {
        await slicer.tick();
        signal.throwIfAborted();
        // Archives hold every event at the current version of its type.
        const event = this.catalog.upcast(stored);
        eventCount += 1;
        const archived: ArchivedEvent = {
          number: eventCount,
          stream: event.stream,
          streamVersion: event.streamVersion,
          type: event.type,
          timestamp: event.metadata.timestamp,
          actor: event.metadata.actor,
          schemaVersion: event.metadata.schemaVersion,
          data: event.data,
        };
        context.mentionUser(archived.actor);
        const line = `${JSON.stringify(archived)}\n`;
        batch.push(archived);
        lines.push(line);
        bytes += Buffer.byteLength(line);
        if (batch.length >= EVENTS_PER_FILE || bytes >= EVENT_FILE_MAX_BYTES) await flush();
      }
      await flush();
      if (eventCount === 0) throw new Error(`App ${job.appId} has no events to back up`);
      this.faults.check('complete');
      meter.enter('users');
      await report();
      for (const handler of this.handlers.all) await handler.completeBackup?.(context);
      this.faults.check('manifest');
      meter.enter('finishing');
      await report();

      await writer.finish({
        format: FORMAT_NAME,
        formatVersion: FORMAT_VERSION,
        app: { id: job.appId, name: job.appName },
        created: job.created,
        source: { installationId: await this.installation.id(), eventStore: this.store.kind, position },
        counts: { events: eventCount, eventFiles: fileIndex, assets: context.counts.assets, users: context.counts.users },
        missing,
        warnings,
      });
      const stored = await upload;
      meter.complete(eventCount);
      return { eventCount, assetCount: context.counts.assets, userCount: context.counts.users, sizeBytes: stored.size, sha256: stored.sha256, warnings, final: meter.snapshot() };
    } catch (error) {
      writer.abort(error instanceof Error ? error : new Error(String(error)));
      await upload.catch(() => undefined);
      await this.blobs.delete(key).catch((e: unknown) => this.logger.warn(`Could not remove the partial archive ${key}: ${String(e)}`));
      throw error;
    }
  }
}
