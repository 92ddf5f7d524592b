import { pipeline, type Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { EVENT_STORE, type EventStore, type StoredEvent, streams } from '../../infrastructure/event-store/event-store.port.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { claims } from '../../infrastructure/name-index/name-index.port.js';
import { SYSTEM_ACTOR } from '../../auth/principal.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { TimeSlicer } from '../../platform/time-slicer.js';
import { ArchiveParticipants, type BackupContext, type BackupSession } from '../../archive/archive-participant.port.js';
import { type BackupSelection, describeSelection, StreamSelection } from '../../archive/archive-selection.js';
import { archiveKey, type BackupJob } from '../shared/backup-job.js';
import { type ArchivedEvent, EVENT_FILE_MAX_BYTES, EVENTS_PER_FILE, eventFileName, FORMAT_NAME, FORMAT_VERSION, type Manifest, SELECTION_ENTRY } from '../../archive/archive-format.js';
import { ArchiveWriter } from '../../archive/archive-writer.js';
import { AppJobRunner } from '../shared/app-job.runner.js';
import { CopyWriter, type FinishedArchive } from './copy-writer.js';
import { InstallationService } from '../shared/installation.service.js';
import { type PhasePlan, ProgressMeter } from '../../jobs/job-progress.js';
import { endedJob } from '../../jobs/job-record.js';
import type { JobOutcome, JobRunner } from '../../jobs/job-runner.port.js';
import { JobProcessor } from '../../jobs/job-processor.service.js';
import type { JobRunContext } from '../../jobs/job-run-context.js';
import type { JobStore } from '../../jobs/job-store.js';
import { JobSecrets } from '../../jobs/job-secrets.js';
import type { ArchiveKeys } from '../../archive/age-keys.js';
import { ageEncryptor } from '../../archive/age-stream.js';

/** Where a backup can be made to fail (JobFaults): reading events, opening an entry's source, the participants' last step, the manifest. */
export const BACKUP_STAGES = ['events', 'entry', 'complete', 'manifest'] as const;
export type BackupStage = (typeof BACKUP_STAGES)[number];

/** A backup as it runs. */
type BackupRun = JobRunContext<BackupJob, BackupStage>;

/** What a completed backup stores on its job. */
type BackupResult = Pick<BackupJob, 'eventCount' | 'assetCount' | 'userCount' | 'sizeBytes' | 'warnings' | 'position'> & FinishedArchive;

/** A backup's phases and their share of its time: events (and the files they name) dominate. */
type BackupPhase = 'selecting' | 'events' | 'users' | 'finishing' | 'copying';
const BACKUP_PHASES: PhasePlan<BackupPhase> = { selecting: [0, 0], events: [0, 95], users: [95, 97], finishing: [97, 100], copying: [100, 100] };
/** A partial backup reads the history twice: once to decide what it holds, once to write it. */
const PARTIAL_PHASES: PhasePlan<BackupPhase> = { selecting: [0, 30], events: [30, 95], users: [95, 97], finishing: [97, 100], copying: [100, 100] };
/** With copies to other repositories, sending the archive takes about as long again as writing it. */
const COPY_PHASES: PhasePlan<BackupPhase> = { selecting: [0, 0], events: [0, 48], users: [48, 49], finishing: [49, 50], copying: [50, 100] };
const PARTIAL_COPY_PHASES: PhasePlan<BackupPhase> = { selecting: [0, 15], events: [15, 48], users: [48, 49], finishing: [49, 50], copying: [50, 100] };

/** An event as the archive holds it: numbered within the app, metadata flattened. */
function archivedOf(event: StoredEvent, number: number): ArchivedEvent {
  const { stream, streamVersion, type, metadata, data } = event;
  return { number, stream, streamVersion, type, timestamp: metadata.timestamp, actor: metadata.actor, schemaVersion: metadata.schemaVersion, data };
}

/**
 * Backup jobs (see JobRunner): streams one app into an archive in the archive store. The app is
 * taken as of the store position when the run starts, so writes that go on meanwhile are either
 * wholly in (before) or wholly out. One backup per app at a time: the app's backup slot.
 */
@Injectable()
export class BackupRunner extends AppJobRunner<BackupJob> implements JobRunner<BackupJob, BackupStage> {
  private readonly logger = new Logger(BackupRunner.name);
  readonly kind = 'backup';
  protected readonly slotOf = claims.backupSlot;
  readonly collection = { name: 'backup_jobs', indexes: ['appId', ['appId', 'created'], 'created', 'status', ['status', 'created']] };
  readonly withProjections = false;
  readonly stepNoun = 'backup stage';
  readonly jobs: JobStore<BackupJob>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly participants: ArchiveParticipants,
    private readonly installation: InstallationService,
    private readonly catalog: EventCatalog,
    private readonly copier: CopyWriter,
    processor: JobProcessor,
    private readonly secrets: JobSecrets,
  ) {
    super();
    this.jobs = processor.register(this);
  }

  async run(ctx: BackupRun): Promise<JobOutcome<BackupJob>> {
    const { archive, meter } = await this.write(ctx);
    const { manifest: _manifest, ...result } = archive;
    // Then the copies to other repositories (CopyWriter), each failing on its own.
    const copied = await this.copier.copy(ctx, archive, (fraction) => {
      meter.enter('copying');
      meter.within(fraction);
      void ctx.progress();
    });
    meter.complete(result.eventCount);
    this.logger.log(`Backup ${ctx.job.id} of app ${ctx.job.appName} completed: ${result.eventCount} events, ${result.assetCount} files, ${result.sizeBytes} bytes`);
    return { patch: { ...result, copies: copied.copies, warnings: [...result.warnings, ...copied.warnings] } };
  }

  /** Partial archives a process killed mid-write left behind (JobRunner.atStartUp). */
  async atStartUp(): Promise<void> {
    await this.blobs.removeIncomplete();
  }

  /** A backup whose process died can never finish: Failed, and whatever part of its archive was written is removed. */
  async settle(job: BackupJob): Promise<BackupJob> {
    const copied = await this.copier.recover(job);
    if (copied) return copied;
    await this.blobs.delete(archiveKey(job));
    return endedJob(job, 'Failed', { error: `The server stopped while this backup was ${job.status.toLowerCase()}; no archive was kept. Start a new backup.` });
  }

  /** `ctx.signal` stops the run at its next event (a shutdown); what was written so far is removed. */
  private async write(ctx: BackupRun): Promise<{ archive: BackupResult; meter: ProgressMeter<BackupPhase> }> {
    const job = ctx.job;
    const position = await this.store.headPosition();
    // The exact total: the app's events as of the position this backup takes it at (for a partial
    // backup, first those it reads to select, then those it keeps).
    const appEvents = await this.store.countApp(job.appId, position);
    const include = job.include ?? null;
    const copies = this.copier.hasRemoteTargets(job);
    const plan = include ? (copies ? PARTIAL_COPY_PHASES : PARTIAL_PHASES) : copies ? COPY_PHASES : BACKUP_PHASES;
    const meter = ctx.measure(new ProgressMeter<BackupPhase>(plan, include ? 'selecting' : 'events', appEvents));

    const warnings: string[] = [];
    const missing: Manifest['missing'] = [];
    const mentioned = new Set<string>();
    // Users the events name: their actors, and those their streams' facts say their data names.
    const mention = (userId: string) => {
      if (userId && userId !== SYSTEM_ACTOR) mentioned.add(userId);
    };
    const writer = new ArchiveWriter(new Date(job.created));
    // Set up before a partial backup's first pass, however long: a passphrase is taken from JobSecrets at once.
    const stored = await this.encrypted(ctx, writer.output);
    const context: BackupContext = {
      appId: job.appId,
      selection: include,
      addEntry: (name, open, options) =>
        writer.addEntry(
          name,
          async () => {
            await ctx.fault('entry');
            return open();
          },
          options,
        ),
      mentionedUsers: mentioned,
      credentials: job.credentials === true,
      warn: (message) => {
        if (warnings.length < 1000) warnings.push(message);
      },
      missing: (name, reason) => {
        missing.push({ name, reason });
        context.warn(`${name} is missing from the archive: ${reason}`);
      },
      counts: { assets: 0, users: 0 },
    };
    const sessions = this.participants.all.flatMap((participant) => participant.backup?.(context) ?? []);
    const selection = include ? await this.select(job.appId, include, position, ctx, meter, sessions) : null;
    if (selection && selection.events === 0) throw new Error(`The selection (${describeSelection(include)}) holds no events of app ${job.appName}`);
    const belongs = (stream: string) => !selection || stream === streams.app(job.appId) || selection.isKept(stream);
    const key = archiveKey(job);
    const upload = this.blobs.put(key, stored);
    // If the archive store fails, stop producing entries at once instead of filling memory.
    upload.catch((error: unknown) => writer.abort(error instanceof Error ? error : new Error(String(error))));

    let eventCount = 0;
    const report = () => ctx.progress({ eventCount, assetCount: context.counts.assets });
    try {
      let fileIndex = 0;
      let batch: ArchivedEvent[] = [];
      let lines: string[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        fileIndex += 1;
        await writer.addBuffer(eventFileName(fileIndex), Buffer.from(lines.join(''), 'utf8'), { compress: true });
        for (const session of sessions) await session.written?.(batch);
        batch = [];
        lines = [];
        bytes = 0;
        meter.count(eventCount);
        meter.within(eventCount / Math.max(1, meter.snapshot().progress.total));
        await report();
      };
      if (selection) meter.enter('events');

      await ctx.fault('events');
      const slicer = new TimeSlicer();
      for await (const stored of this.store.readApp(job.appId, { until: position })) {
        await slicer.tick();
        ctx.signal.throwIfAborted();
        if (!belongs(stored.stream)) continue;
        // Archives hold every event at the current version of its type.
        const event = this.catalog.upcast(stored);
        eventCount += 1;
        const archived = archivedOf(event, eventCount);
        mention(archived.actor);
        this.catalog.streamOfType(event.type).users?.each(event, mention);
        const line = `${JSON.stringify(archived)}\n`;
        batch.push(archived);
        lines.push(line);
        bytes += Buffer.byteLength(line);
        if (batch.length >= EVENTS_PER_FILE || bytes >= EVENT_FILE_MAX_BYTES) await flush();
      }
      await flush();
      if (eventCount === 0) throw new Error(`App ${job.appId} has no events to back up`);
      await ctx.fault('complete');
      meter.enter('users');
      await report();
      for (const session of sessions) await session.complete?.();
      // The selection twice: in the manifest for readers, and as a listed entry the checksums cover.
      if (include) await writer.addBuffer(SELECTION_ENTRY, Buffer.from(`${JSON.stringify(include)}\n`, 'utf8'), { compress: true });
      await ctx.fault('manifest');
      meter.enter('finishing');
      await report();

      const manifest = await writer.finish({
        format: FORMAT_NAME,
        formatVersion: FORMAT_VERSION,
        app: { id: job.appId, name: job.appName },
        created: job.created,
        source: { installationId: await this.installation.id(), eventStore: this.store.kind, position },
        counts: { events: eventCount, eventFiles: fileIndex, assets: context.counts.assets, users: context.counts.users },
        ...(include ? { partial: true, include } : {}),
        missing,
        warnings,
      });
      const stored = await upload;
      return { archive: { eventCount, assetCount: context.counts.assets, userCount: context.counts.users, sizeBytes: stored.size, sha256: stored.sha256, warnings, position, manifest }, meter };
    } catch (error) {
      writer.abort(error instanceof Error ? error : new Error(String(error)));
      await upload.catch(() => undefined);
      await this.blobs.delete(key).catch((e: unknown) => this.logger.warn(`Could not remove the partial archive ${key}: ${String(e)}`));
      throw error;
    }
  }

  /**
   * The archive's bytes as they are stored: the zip itself, or encrypted as it is written (age) to
   * the backup's recipients or with the passphrase its request made, which only this process holds
   * (JobSecrets) and which is overwritten when the run ends. Errors travel both ways: a failed
   * store stops the writer, a failed writer fails the store's put.
   */
  private async encrypted(ctx: BackupRun, zip: Readable): Promise<Readable> {
    const encryption = ctx.job.encryption;
    if (!encryption) return zip;
    let encryptor;
    if (encryption.passphrase) {
      const keys = this.secrets.take<ArchiveKeys>(ctx.job.id);
      if (!keys?.passphrase) throw new Error('The passphrase made for this backup is no longer held (it is kept only in the memory of the process that accepted the backup); start a new backup');
      ctx.onEnd(async () => keys.dispose());
      encryptor = await ageEncryptor({ passphrase: keys.passphrase });
    } else {
      encryptor = await ageEncryptor({ recipients: encryption.recipients.map((recipient) => recipient.recipient) });
    }
    await ctx.log(encryption.passphrase ? 'Encrypting the archive (age) with the passphrase made for it' : `Encrypting the archive (age) to ${encryption.recipients.map((r) => r.name ?? r.recipient).join(', ')}`);
    return pipeline(zip, encryptor, () => undefined);
  }

  /**
   * The first pass of a partial backup: every participant's session sees the app's events in order
   * and keeps the streams of the selection. Returns the kept streams and how many events they hold,
   * the exact total of the pass that writes them.
   */
  private async select(
    appId: string,
    include: BackupSelection,
    position: number,
    ctx: BackupRun,
    meter: ProgressMeter<BackupPhase>,
    sessions: readonly BackupSession[],
  ): Promise<{ isKept: (stream: string) => boolean; events: number }> {
    const selection = new StreamSelection(appId, include);
    const perStream = new Map<string, number>();
    const total = Math.max(1, meter.snapshot().progress.total);
    const slicer = new TimeSlicer();
    let read = 0;
    for await (const stored of this.store.readApp(appId, { until: position })) {
      await slicer.tick();
      ctx.signal.throwIfAborted();
      const event = this.catalog.upcast(stored);
      read += 1;
      perStream.set(event.stream, (perStream.get(event.stream) ?? 0) + 1);
      const archived = archivedOf(event, read);
      for (const session of sessions) session.select?.(archived, selection);
      if (ctx.progressDue()) {
        meter.within(read / total);
        await ctx.progress({ eventCount: 0, assetCount: 0 });
      }
    }
    selection.settle();
    const app = streams.app(appId);
    let events = 0;
    for (const [stream, count] of perStream) if (stream === app || selection.isKept(stream)) events += count;
    meter.count(0, events);
    return { isKept: (stream) => selection.isKept(stream), events };
  }
}
