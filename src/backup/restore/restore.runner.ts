import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { EVENT_STORE, type EventStore, type StoredEvent, type StreamWrite } from '../../infrastructure/event-store/event-store.port.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { SYSTEM_ACTOR } from '../../platform/auth/principal.js';
import { quoted } from '../../platform/text/control-characters.js';
import { AppReplays, type RestoreProjection } from '../../eventsourcing/app-replays.service.js';
import { validateName } from '../../apps/app.aggregate.js';
import type { ArchivedEvent, RestoreContext } from '../backup-handler.port.js';
import { describeSelection } from '../shared/backup-selection.js';
import { BackupHandlerRegistry } from '../backup-handler.registry.js';
import { checkArchive } from '../../archive/archive-check.js';
import { ArchiveReader, InvalidArchiveError } from '../../archive/archive-reader.js';
import { RestoreFaults } from './restore-faults.js';
import { restoredEvent } from './restore-event.js';
import { RestoreValidator } from './restore-validator.js';
import { PHASE_OF_STEP, type RestoreJob, type RestorePhase, type RestoreStep } from './restore-job.js';
import type { ProgressMeter } from '../../jobs/job-progress.js';

/** How the runner reports back to the job; every call is persisted by the service. */
export interface RestoreReporter {
  log(message: string): Promise<void>;
  /** Saves the patch together with the meter's current progress. */
  update(patch: Partial<RestoreJob>): Promise<void>;
  readonly meter: ProgressMeter<RestorePhase>;
}

/** Progress is saved (and so streamed) at most this often while the archive is checked and restored. */
const PROGRESS_EVERY_MS = 500;
/** A line in the job's log about how far it got, at most this often. */
const LOG_EVERY_MS = 5000;
const APPEND_BATCH = 500;
/** Deferred handler work (file restores) running at once; each holds an open entry and a file. */
const DEFERRED_IN_FLIGHT = 8;

/**
 * The restore pipeline: verify the archive → reserve the name → map users → stream events under
 * a new app id (files restored on the way, each batch projected right after it is appended) →
 * finish the projections → make the restoring admin an Owner → commit the name. Any failure
 * undoes everything written for the new app.
 */
@Injectable()
export class RestoreRunner {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly replays: AppReplays,
    private readonly handlers: BackupHandlerRegistry,
    private readonly faults: RestoreFaults,
    private readonly catalog: EventCatalog,
  ) {}

  /** `signal` stops the run at its next step or event (a shutdown); the failure then cleans up. */
  async run(job: RestoreJob, archiveFile: string, signal: AbortSignal, report: RestoreReporter): Promise<void> {
    const step = async (name: RestoreStep, message: string) => {
      signal.throwIfAborted();
      const phase = PHASE_OF_STEP[name];
      if (phase) report.meter.enter(phase);
      await report.log(message);
      await this.faults.check(name);
    };
    let reader: ArchiveReader | undefined;
    const deferred = new DeferredWork(DEFERRED_IN_FLIGHT);
    try {
      await step('verify', 'Checking the archive: format, entries, checksums and every event');
      reader = await ArchiveReader.open(archiveFile, { maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      const manifest = reader.manifest;
      report.meter.count(0, manifest.counts.events);
      await report.update({ eventCount: manifest.counts.events });
      const validator = new RestoreValidator(this.catalog, this.store, manifest.app.id);
      await this.checkEntries(reader, report, validator, job.until);
      await report.log(
        `Archive of app ${quoted(manifest.app.name)} from ${manifest.created}: ${manifest.counts.events} events, ${manifest.counts.assets} files, ${manifest.counts.users} users; the events, users.json and checksums of the event files check out`,
      );
      if (manifest.include) {
        await report.update({ include: manifest.include });
        await report.log(`This archive is partial: it holds ${describeSelection(manifest.include)}; references to anything else stay as plain ids`);
      }
      for (const missing of manifest.missing) await report.log(`Warning: the archive lacks ${missing.name} (${missing.reason}); that file version will not be downloadable`);
      const until = this.pointInTime(job, manifest.counts.events);
      // A restore as of a time learns its exact total as it reaches that time.
      if (job.untilEvent !== null) report.meter.count(0, job.untilEvent);

      const name = job.name ?? manifest.app.name;
      let token = job.nameToken;
      if (!token) {
        await step('reserve', `Reserving the app name ${quoted(name)}`);
        validateName(name);
        token = await this.names.reserve(claims.appName(name), this.config.nameReservationTtlMs, job.id);
        await report.update({ name, nameToken: token });
      } else {
        await step('reserve', `The app name ${quoted(name)} is reserved`);
      }
      const reservation = token;

      const targetAppId = randomUUID();
      // Persist the new id before writing anything, so a crash from here on can be cleaned up.
      await report.update({ appId: targetAppId });
      const userMap = new Map<string, string>();
      const remembered: Record<string, string[]> = {};
      const archivedUsers = new Set<string>();
      const archive = reader;
      const context: RestoreContext = {
        sourceAppId: manifest.app.id,
        targetAppId,
        targetName: name,
        actor: job.createdBy,
        openEntry: (entry) => archive.open(entry),
        hasEntry: (entry) => archive.has(entry),
        mapUser: (userId) => (userId === SYSTEM_ACTOR ? SYSTEM_ACTOR : (userMap.get(userId) ?? SYSTEM_ACTOR)),
        setUserMapping: (from, to) => {
          userMap.set(from, to);
          archivedUsers.add(from);
        },
        isArchivedUser: (userId) => archivedUsers.has(userId),
        log: (message) => void report.log(message),
        step: (s) => step(s, `Step: ${s}`),
        defer: (work) => deferred.start(work),
        remember: async (key, value) => {
          remembered[key] = [...(remembered[key] ?? []), value];
          await report.update({ cleanup: { ...remembered } });
        },
        counts: { assets: 0 },
      };

      await step('users', 'Mapping users by email');
      for (const handler of this.handlers.all) await handler.prepareRestore?.(context);

      await step('events', `Restoring events as app ${targetAppId}${until.description}`);
      validator.forTarget(targetAppId, new Set(userMap.values()));
      const projection = await this.replays.openRestore(targetAppId);
      const restored = await this.restoreEvents(archive, context, until.keep, manifest.counts.events, report, projection, deferred, validator, signal);

      await step('rebuild', 'Finishing the projections and full-text index of the new app');
      await projection.complete();
      for (const handler of this.handlers.all) await handler.summarizeRestore?.(context);
      for (const handler of this.handlers.all) await handler.completeRestore?.(context);

      await step('commit', `Committing the app name "${name}"`);
      await this.names.commit(claims.appName(name), reservation, targetAppId);
      await report.log(`Restore completed: app "${name}" with ${restored.events} events and ${context.counts.assets} files`);
    } finally {
      // Files still being written read from the archive, and a cleanup must not race them.
      await deferred.drain();
      reader?.close();
    }
  }

  /**
   * Reads every event file and users.json once (checksums, structure, numbering, counts, each
   * event's type and data against the catalog) and collects the entries the events name; then every asset file in the archive must be named by
   * an event (it is refused before it is ever inflated otherwise), and every named one must be in
   * the archive or listed as missing, which lists nothing else.
   */
  /**
   * Checks the archive (see checkArchive), reporting how far it got. For a restore as of a time it
   * also counts the events up to that time: the exact total the progress counts against.
   */
  private async checkEntries(reader: ArchiveReader, report: RestoreReporter, validator: RestoreValidator, until: string | null): Promise<void> {
    let lastLog = Date.now();
    let lastUpdate = Date.now();
    const limit = until === null ? undefined : Date.parse(until);
    let kept = 0;
    let past = false;
    await checkArchive(reader, validator, {
      entriesFor: (event) => this.handlers.all.flatMap((handler) => handler.entriesFor?.(event) ?? []),
      progressEvery: 1000,
      onProgress: (done, total) => {
        report.meter.within(done / Math.max(1, total));
        if (Date.now() - lastUpdate > PROGRESS_EVERY_MS) {
          lastUpdate = Date.now();
          void report.update({}).catch(() => undefined);
        }
        if (Date.now() - lastLog > LOG_EVERY_MS) {
          lastLog = Date.now();
          void report.log(`Checked ${done}/${total} events`);
        }
      },
      onEvent: (event) => {
        if (limit === undefined || past) return;
        // The restore stops at the first event after the time, as restoreEvents does.
        if (Date.parse(event.timestamp) <= limit) kept += 1;
        else past = true;
      },
    });
    if (limit !== undefined) report.meter.count(0, kept);
  }

  private pointInTime(job: RestoreJob, total: number): { keep: (event: ArchivedEvent) => boolean; description: string } {
    if (job.untilEvent !== null) {
      if (job.untilEvent > total) throw new InvalidArchiveError(`untilEvent is ${job.untilEvent}, but the archive holds only ${total} events`);
      const until = job.untilEvent;
      return { keep: (e) => e.number <= until, description: `, up to event ${until} of ${total}` };
    }
    if (job.until !== null) {
      const limit = Date.parse(job.until);
      return { keep: (e) => Date.parse(e.timestamp) <= limit, description: `, as of ${job.until}` };
    }
    return { keep: () => true, description: '' };
  }

  private async restoreEvents(
    reader: ArchiveReader,
    context: RestoreContext,
    keep: (event: ArchivedEvent) => boolean,
    total: number,
    report: RestoreReporter,
    projection: RestoreProjection,
    deferred: DeferredWork,
    validator: RestoreValidator,
    signal: AbortSignal,
  ): Promise<{ events: number; lastPosition: number }> {
    // Events are appended in bounded batches spanning streams: one commit per batch, in order.
    let pending: StreamWrite[] = [];
    let pendingCount = 0;
    let events = 0;
    let lastPosition = 0;
    let lastReport = Date.now();
    let lastLog = Date.now();

    const flush = async () => {
      if (pendingCount === 0) return;
      // Every file the batch's events name is in place before the events are.
      await deferred.settle();
      lastPosition = (await this.store.appendMany(pending)).position;
      // Projected from what was just appended, never read back from the store.
      await projection.project(asStored(pending, lastPosition));
      events += pendingCount;
      pending = [];
      pendingCount = 0;
      report.meter.count(events);
      report.meter.within(events / Math.max(1, report.meter.snapshot().progress.total));
      if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        await report.update({ restoredEvents: events, restoredAssets: context.counts.assets });
      }
      if (Date.now() - lastLog > LOG_EVERY_MS) {
        lastLog = Date.now();
        await report.log(`events ${events}/${total}`);
      }
    };

    for await (const archived of reader.events()) {
      signal.throwIfAborted();
      if (!keep(archived)) break;
      const { stream, streamVersion, event } = await restoredEvent(archived, context, { validator, handlers: this.handlers.all, catalog: this.catalog });
      if (pendingCount >= APPEND_BATCH) await flush();
      let write = pending.at(-1);
      if (write?.stream !== stream) {
        write = { stream, expectedVersion: streamVersion - 1, events: [] };
        pending.push(write);
      }
      pendingCount += 1;
      write.events.push(event);
    }
    await flush();
    if (events === 0) throw new InvalidArchiveError('No event is left to restore at that point in time');
    report.meter.count(events, events);
    report.meter.within(1);
    await report.update({ restoredEvents: events, restoredAssets: context.counts.assets });
    await report.log(`events ${events}/${total}`);
    return { events, lastPosition };
  }
}

/** Handler work that runs alongside the event stream, a few at a time; `settle` waits for all of it. */
class DeferredWork {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly limit: number) {}

  async start(work: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const run: Promise<void> = work()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
    this.throwIfFailed();
  }

  /** Waits for whatever still runs, its outcome aside (the restore has failed or finished). */
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * The appended events as the store now holds them. Positions are the batch's last one for every
 * event: projections never read positions, and the restore's projection keeps no checkpoint.
 */
function asStored(writes: readonly StreamWrite[], position: number): StoredEvent[] {
  return writes.flatMap((write) => {
    const first = (write.expectedVersion === 'any' ? -1 : write.expectedVersion) + 1;
    return write.events.map((event, i) => ({ ...event, stream: write.stream, streamVersion: first + i, position }));
  });
}
