import { stat } from 'node:fs/promises';
import type { DomainEvent } from '../eventsourcing/decider.js';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { type ArchiveCheckReport, checkArchive } from './archive-check.js';
import { type ArchivedEvent, classifyEntry, type Manifest, USERS_ENTRY } from './archive-format.js';
import { type ArchiveContent, readBoundedText } from './archive-reader.js';
import { openArchiveSource, type RehearsalSource } from './archive-chain.js';
import type { BackupSelection } from './archive-selection.js';
import { type Placed, RestoreValidator } from './restore-validator.js';

/** What an archive holds; `schemas` and the like are the domains' to add (see src/cli/offline-archive.ts). */
export interface InspectReport {
  file: string;
  /** Size of the zip on disk. */
  fileBytes: number;
  app: Manifest['app'];
  formatVersion: number;
  created: string;
  source: Manifest['source'];
  counts: Manifest['counts'];
  /** True for a partial archive, whose `include` says what it holds. */
  partial: boolean;
  include: BackupSelection | null;
  streams: ArchiveCheckReport['streams'];
  eventTypes: Record<string, number>;
  timeRange: { first: string | null; last: string | null };
  users: { id: string; email: string; displayName: string }[];
  /** Uncompressed bytes by kind of entry (the manifest's sizes). */
  sizes: { events: number; assets: number; other: number; total: number };
  missing: Manifest['missing'];
  warnings: string[];
}

/** The scan's checks (place, accept) never read a stream; one that is read anyway fails loudly. */
const noStreams = (): never => {
  throw new Error('The stateless archive checks read no stream');
};

/** Sees each event that passed the checks, with its data as the current version of its type describes it. */
export type InspectObserver = (event: ArchivedEvent, accepted: DomainEvent, placed: Placed) => void;

export interface Opened {
  reader: ArchiveContent;
  report: ArchiveCheckReport;
}

/**
 * Opens an archive (or an incremental chain, base first) and runs the checks a restore makes before it writes anything (archive-check.ts),
 * letting `onEvent` see each event that passed. The reader stays open for a second pass. `scratchDir`: where the checks keep their
 * scratch file (the system's temp folder unless given).
 */
export async function openChecked(source: RehearsalSource, maxExpandedBytes: number, catalog: EventCatalog, onEvent?: InspectObserver, scratchDir?: string): Promise<Opened> {
  const reader = await openArchiveSource(source, { maxExpandedBytes });
  try {
    const validator = new RestoreValidator(catalog, noStreams, reader.manifest.app.id);
    const report = await checkArchive(reader, catalog, validator, { onEvent, scratchDir });
    return { reader, report };
  } catch (error) {
    reader.close();
    throw error;
  }
}

export async function inspectArchive(file: string, maxExpandedBytes: number, catalog: EventCatalog, onEvent?: InspectObserver, scratchDir?: string): Promise<InspectReport> {
  const { reader, report } = await openChecked(file, maxExpandedBytes, catalog, onEvent, scratchDir);
  try {
    const manifest = reader.manifest;
    const sizes = { events: 0, assets: 0, other: 0, total: 0 };
    for (const entry of manifest.entries) {
      const kind = classifyEntry(entry.name)?.kind;
      if (kind === 'events') sizes.events += entry.size;
      else if (kind === 'asset') sizes.assets += entry.size;
      else sizes.other += entry.size;
      sizes.total += entry.size;
    }
    const users = reader.has(USERS_ENTRY) ? parseUsers(await readBoundedText(await reader.open(USERS_ENTRY), 64 * 1024 * 1024)) : [];
    return {
      file,
      fileBytes: (await stat(file)).size,
      app: manifest.app,
      formatVersion: manifest.formatVersion,
      created: manifest.created,
      source: manifest.source,
      counts: manifest.counts,
      partial: manifest.partial === true,
      include: manifest.include ?? null,
      streams: report.streams,
      eventTypes: report.types,
      timeRange: { first: report.firstEventAt, last: report.lastEventAt },
      users,
      sizes,
      missing: manifest.missing,
      warnings: manifest.warnings,
    };
  } finally {
    reader.close();
  }
}

function parseUsers(text: string): InspectReport['users'] {
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((user: unknown) => {
    if (typeof user !== 'object' || user === null) return [];
    const { id, email, displayName } = user as Record<string, unknown>;
    return typeof id === 'string' && typeof email === 'string' ? [{ id, email, displayName: typeof displayName === 'string' ? displayName : '' }] : [];
  });
}

export interface DiffReport {
  a: { file: string; app: Manifest['app']; created: string; events: number; assetFiles: number };
  b: { file: string; app: Manifest['app']; created: string; events: number; assetFiles: number };
  /** Same app id, and a's events are exactly b's first ones. */
  continues: boolean;
  /** Why b does not continue a, when it does not. */
  reason: string | null;
  /** b's event count less a's. */
  eventsAdded: number;
  /** The added events by type (only when b continues a). */
  addedTypes: Record<string, number>;
  /** Asset file versions b has (or lists as missing) that a does not. */
  assetVersionsAdded: string[];
  /** Asset file versions a has that b does not (none when b continues a). */
  assetVersionsRemoved: string[];
}

/** The parts of an archived event that make it the same event in two archives. */
const fingerprint = (e: ArchivedEvent) => JSON.stringify([e.number, e.stream, e.streamVersion, e.type, e.timestamp, e.actor, e.schemaVersion, e.data]);

/** What b adds to a, two backups of one app, and whether b continues a's history. */
export async function diffArchives(fileA: string, fileB: string, maxExpandedBytes: number, catalog: EventCatalog, scratchDir?: string): Promise<DiffReport> {
  const a = await openChecked(fileA, maxExpandedBytes, catalog, undefined, scratchDir);
  let b: Opened;
  try {
    b = await openChecked(fileB, maxExpandedBytes, catalog, undefined, scratchDir);
  } catch (error) {
    a.reader.close();
    throw error;
  }
  try {
    const ma = a.reader.manifest;
    const mb = b.reader.manifest;
    const assetsOf = (reader: ArchiveContent) => new Set([...reader.namesOf('asset'), ...reader.manifest.missing.map((m) => m.name)]);
    const assetsA = assetsOf(a.reader);
    const assetsB = assetsOf(b.reader);
    let reason: string | null = null;
    const addedTypes: Record<string, number> = {};
    if (ma.app.id !== mb.app.id) {
      reason = `they are backups of different apps (a: ${ma.app.name} ${ma.app.id}, b: ${mb.app.name} ${mb.app.id})`;
    } else {
      const left = a.reader.events()[Symbol.asyncIterator]();
      const right = b.reader.events()[Symbol.asyncIterator]();
      try {
        for (;;) {
          const [x, y] = await Promise.all([left.next(), right.next()]);
          if (x.done && y.done) break;
          if (x.done) {
            const event = y.value as ArchivedEvent;
            addedTypes[event.type] = (addedTypes[event.type] ?? 0) + 1;
            continue;
          }
          if (y.done) {
            reason = `b holds fewer events than a (${mb.counts.events} < ${ma.counts.events}) and b's are a's first ones: b is the older backup; pass them the other way round`;
            break;
          }
          if (fingerprint(x.value) !== fingerprint(y.value)) {
            reason = `event ${x.value.number} differs (a: ${x.value.type} in ${x.value.stream} at ${x.value.timestamp}; b: ${y.value.type} in ${y.value.stream} at ${y.value.timestamp}): b is not a later backup of a's history`;
            break;
          }
        }
      } finally {
        await left.return?.();
        await right.return?.();
      }
    }
    const continues = reason === null;
    const side = (file: string, manifest: Manifest, assets: Set<string>) => ({ file, app: manifest.app, created: manifest.created, events: manifest.counts.events, assetFiles: assets.size });
    return {
      a: side(fileA, ma, assetsA),
      b: side(fileB, mb, assetsB),
      continues,
      reason,
      eventsAdded: mb.counts.events - ma.counts.events,
      addedTypes: continues ? addedTypes : {},
      assetVersionsAdded: [...assetsB].filter((name) => !assetsA.has(name)).sort(),
      assetVersionsRemoved: [...assetsA].filter((name) => !assetsB.has(name)).sort(),
    };
  } finally {
    a.reader.close();
    b.reader.close();
  }
}
