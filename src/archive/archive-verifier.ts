import { randomUUID } from 'node:crypto';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { SYSTEM_ACTOR } from '../auth/principal.js';
import { type ArchiveCheckReport, checkArchive } from './archive-check.js';
import type { RestoreParticipant } from './archive-participant.port.js';
import { openArchiveSource, type RehearsalSource } from './archive-chain.js';

export type { RehearsalSource } from './archive-chain.js';
import { ArchiveRestore, pointInTime } from './archive-restore.js';
import type { BackupSelection } from './archive-selection.js';
import { RehearsalSink, type UserLookup } from './rehearsal-sink.js';

/** The server's default MAX_RESTORE_EXPANDED_BYTES (200 GiB). */
export const DEFAULT_MAX_EXPANDED_BYTES = 200 * 1024 ** 3;

export interface RehearsalOptions {
  /** The installation's event catalog and participants, or the offline ones (src/cli/offline-archive.ts). */
  catalog: EventCatalog;
  participants: readonly RestoreParticipant[];
  maxExpandedBytes: number;
  /** A point in time, as a restore takes it: up to this event number, or up to this time. */
  untilEvent?: number;
  until?: string;
  onProgress?(phase: 'scan' | 'rehearse', done: number, total: number): void;
  /** The users of the installation a restore would go to (a dry run on the server); none offline. */
  lookupUser?: UserLookup;
  /** The archive was decrypted before it was rehearsed (its credentials count, as in a restore). */
  encrypted?: boolean;
  /** Where the checks keep their scratch files (ScratchKeys, ScratchStreams): DATA_DIR/tmp on a server; else the system's temp folder. */
  scratchDir?: string;
}


/** What a rehearsal of a restore found: the archive passed every check a restore makes. */
export interface RehearsalReport {
  valid: true;
  app: { id: string; name: string };
  formatVersion: number;
  created: string;
  counts: ArchiveCheckReport;
  /** Events a restore would append (all, or up to the point in time). */
  checkedEvents: number;
  /** File versions read and compared with the SHA-256 their events record. */
  checkedFiles: number;
  missing: { name: string; reason: string }[];
  warnings: string[];
  /** A partial archive's selection; null for a whole app. */
  include: BackupSelection | null;
  /** The archives read as one history: 1, or a full backup and its increments. */
  links: number;
  /** What the restore would log about the events (dangling references). */
  notes: string[];
  /** Archived users by email: mapped to users of this installation, or to be created (without keys). */
  users: { mapped: string[]; created: string[] };
}

/**
 * Every check a restore makes, with nothing written anywhere: the restore itself (ArchiveRestore,
 * the loop RestoreRunner runs) writing to a rehearsal sink, which keeps the events in scratch
 * streams, hashes the files and counts the users. So the archive reader's container checks
 * (format, entry names, sizes, counts, zip bombs), the scan (checksums, numbering, the event
 * catalog, named entries: archive-check.ts), users.json as the users participant reads it, and
 * each event as a restore takes it (checked against its stream's state, mapped, its file hashed
 * against its event) all run as they do in a restore. Throws InvalidArchiveError with a
 * restore's message. The server's dry run and `appvault archive verify` use it.
 */
export async function rehearseRestore(source: RehearsalSource, options: RehearsalOptions): Promise<RehearsalReport> {
  const reader = await openArchiveSource(source, { maxExpandedBytes: options.maxExpandedBytes });
  const sink = new RehearsalSink(options.lookupUser, options.scratchDir);
  const notes: string[] = [];
  const restore = new ArchiveRestore({
    reader,
    catalog: options.catalog,
    participants: options.participants,
    sink,
    log: (message) => {
      if (notes.length < 100) notes.push(message);
    },
    step: async () => undefined,
    remember: async () => undefined,
    encrypted: options.encrypted,
    scratchDir: options.scratchDir,
  });
  try {
    const manifest = reader.manifest;
    const counts = await checkArchive(reader, options.catalog, restore.validator, { onProgress: (done, total) => options.onProgress?.('scan', done, total), progressEvery: 1000, scratchDir: options.scratchDir });
    const { keep } = pointInTime(manifest.counts.events, options);
    await restore.begin({ appId: randomUUID(), name: manifest.app.name, actor: SYSTEM_ACTOR });
    let reported = 0;
    const checked = await restore.events(keep, {
      onBatch: async (done) => {
        if (Math.floor(done / 1000) > Math.floor(reported / 1000)) options.onProgress?.('rehearse', done, manifest.counts.events);
        reported = done;
      },
    });
    await restore.summarize();
    options.onProgress?.('rehearse', checked, manifest.counts.events);
    return {
      valid: true,
      app: manifest.app,
      formatVersion: manifest.formatVersion,
      created: manifest.created,
      counts,
      checkedEvents: checked,
      checkedFiles: restore.counts.assets,
      missing: manifest.missing,
      warnings: manifest.warnings,
      include: manifest.include ?? null,
      links: typeof source === 'string' ? 1 : source.length,
      notes,
      users: sink.users,
    };
  } finally {
    await restore.drain();
    sink.close();
    reader.close();
  }
}
