import { randomUUID } from 'node:crypto';
import { type ArchiveCheckOptions, checkArchive } from './archive-check.js';
import type { ArchiveRehearsalReport } from '../backup/restore/archive-rehearsal.port.js';
import { ArchiveReader, InvalidArchiveError } from './archive-reader.js';
import type { ArchivedEvent, RestoreContext } from '../backup/backup-handler.port.js';
import { restoredEvent } from '../backup/restore/restore-event.js';
import { RestoreValidator } from '../backup/restore/restore-validator.js';
import { SYSTEM_ACTOR } from '../platform/auth/principal.js';
import { TimeSlicer } from '../platform/time-slicer.js';
import { offlineInstallation, type UserLookup } from './offline-installation.js';
import { ScratchStreams } from './scratch-streams.js';

/** The server's default MAX_RESTORE_EXPANDED_BYTES (200 GiB). */
export const DEFAULT_MAX_EXPANDED_BYTES = 200 * 1024 ** 3;

export interface VerifyOptions {
  maxExpandedBytes: number;
  /** A point in time, as a restore takes it: up to this event number, or up to this time. */
  untilEvent?: number;
  until?: string;
  onProgress?(phase: 'scan' | 'rehearse', done: number, total: number): void;
  /** The users of the installation a restore would go to (a dry run on the server); none offline. */
  lookupUser?: UserLookup;
}

/** The rehearsal's report (the port the server's dry run uses), for an archive that passed. */
export type VerifyReport = ArchiveRehearsalReport & { valid: true };

/**
 * Every check a restore makes, with nothing written anywhere: the archive reader's container
 * checks (format, entry names, sizes, counts, zip bombs), the shared scan (checksums, numbering,
 * the event catalog, named entries: archive-check.ts), users.json as the users handler reads it,
 * and then each event as RestoreRunner.restoreEvents takes it — first event, deleted app, actors,
 * rewritten by the handlers, and checked by RestoreValidator.follow against its stream's state
 * (versions, domain rules, users, file versions, whose bytes are hashed against the event). Keep
 * the loop below in step with restoreEvents. Throws InvalidArchiveError with a restore's message.
 */
export async function verifyArchive(file: string, options: VerifyOptions): Promise<VerifyReport> {
  const { catalog, handlers, users } = offlineInstallation(options.lookupUser);
  const reader = await ArchiveReader.open(file, { maxExpandedBytes: options.maxExpandedBytes });
  const scratch = new ScratchStreams();
  try {
    const manifest = reader.manifest;
    const validator = new RestoreValidator(catalog, scratch.asValidatorStore(), manifest.app.id);
    const checkOptions: ArchiveCheckOptions = {
      entriesFor: (event) => handlers.flatMap((handler) => handler.entriesFor?.(event) ?? []),
      onProgress: (done, total) => options.onProgress?.('scan', done, total),
      progressEvery: 1000,
    };
    const counts = await checkArchive(reader, validator, checkOptions);
    const keep = pointInTime(options, manifest.counts.events);

    const targetAppId = randomUUID();
    const userMap = new Map<string, string>();
    const archivedUsers = new Set<string>();
    const notes: string[] = [];
    const context: RestoreContext = {
      sourceAppId: manifest.app.id,
      targetAppId,
      targetName: manifest.app.name,
      actor: SYSTEM_ACTOR,
      openEntry: (entry) => reader.open(entry),
      hasEntry: (entry) => reader.has(entry),
      mapUser: (userId) => (userId === SYSTEM_ACTOR ? SYSTEM_ACTOR : (userMap.get(userId) ?? SYSTEM_ACTOR)),
      setUserMapping: (from, to) => {
        userMap.set(from, to);
        archivedUsers.add(from);
      },
      isArchivedUser: (userId) => archivedUsers.has(userId),
      log: (message) => {
        if (notes.length < 100) notes.push(message);
      },
      step: async () => undefined,
      // File versions are hashed one after the other: nothing waits on them offline.
      defer: async (work) => {
        try {
          await work();
        } catch (error) {
          if (error instanceof InvalidArchiveError) throw error;
          throw new InvalidArchiveError((error as Error).message);
        }
      },
      remember: async () => undefined,
      counts: { assets: 0 },
    };
    for (const handler of handlers) await handler.prepareRestore?.(context);
    validator.forTarget(targetAppId, new Set(userMap.values()));

    let checked = 0;
    // Run inside the server too (a restore's dry run): never hold the event loop for long.
    const slicer = new TimeSlicer();
    for await (const archived of reader.events()) {
      await slicer.tick();
      if (!keep(archived)) break;
      const { stream, streamVersion, event } = await restoredEvent(archived, context, { validator, handlers, catalog });
      scratch.append(stream, streamVersion, event);
      if (++checked % 1000 === 0) options.onProgress?.('rehearse', checked, manifest.counts.events);
    }
    if (checked === 0) throw new InvalidArchiveError('No event is left to restore at that point in time');
    for (const handler of handlers) await handler.summarizeRestore?.(context);
    options.onProgress?.('rehearse', checked, manifest.counts.events);
    return {
      valid: true,
      app: manifest.app,
      formatVersion: manifest.formatVersion,
      created: manifest.created,
      counts,
      checkedEvents: checked,
      checkedFiles: context.counts.assets,
      missing: manifest.missing,
      warnings: manifest.warnings,
      include: manifest.include ?? null,
      notes,
      users,
    };
  } finally {
    scratch.close();
    reader.close();
  }
}

/** As RestoreRunner.pointInTime: which events a restore with untilEvent or until keeps. */
function pointInTime(options: VerifyOptions, total: number): (event: ArchivedEvent) => boolean {
  if (options.untilEvent !== undefined) {
    if (options.untilEvent > total) throw new InvalidArchiveError(`untilEvent is ${options.untilEvent}, but the archive holds only ${total} events`);
    const until = options.untilEvent;
    return (e) => e.number <= until;
  }
  if (options.until !== undefined) {
    const limit = Date.parse(options.until);
    return (e) => Date.parse(e.timestamp) <= limit;
  }
  return () => true;
}
