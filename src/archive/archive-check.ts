import type { DomainEvent } from '../eventsourcing/decider.js';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import type { ArchivedEvent } from './archive-format.js';
import { type ArchiveContent, InvalidArchiveError } from './archive-reader.js';
import type { Placed, RestoreValidator } from './restore-validator.js';
import { ScratchKeys } from './scratch-keys.js';
import { TimeSlicer } from '../platform/time-slicer.js';

/** What the check needs of the validator: the stateless checks, which look at the archive alone. */
export type StatelessEventCheck = Pick<RestoreValidator, 'place' | 'accept'>;

export interface ArchiveCheckOptions {
  /** Called every `progressEvery` events (10,000 unless given) with the events checked so far. */
  onProgress?(done: number, total: number): void;
  progressEvery?: number;
  /** Sees each event once it passed, with its data as the current version of its type describes it. */
  onEvent?(event: ArchivedEvent, accepted: DomainEvent, placed: Placed): void;
  /** Where the check keeps its scratch file (ScratchKeys): a server passes DATA_DIR/tmp; else the system's temp folder. */
  scratchDir?: string;
}

/** The scratch sets of the check: entry names the events name, and streams seen. */
const NAMED = 'named';
const STREAMS = 'streams';

/** What an archive that passed holds. */
export interface ArchiveCheckReport {
  events: number;
  eventFiles: number;
  /** Asset file versions in the archive. */
  assets: number;
  users: number;
  /** Entries the events name that the manifest lists as missing. */
  missing: number;
  /** Streams by kind (every kind of an app's streams the catalog knows: app, schema, content, asset). */
  streams: Record<string, number>;
  /** Events by type. */
  types: Record<string, number>;
  /** The earliest and latest event time, or null for none. */
  firstEventAt: string | null;
  lastEventAt: string | null;
}

/**
 * Every check a restore makes on an archive before it writes anything, on the archive alone:
 * each event file and users.json read once (checksums, structure, numbering, counts), each event's
 * stream, type and data against the event catalog; then every asset file in the archive must be
 * named by an event (it is refused before it is ever inflated otherwise), and every named one must
 * be in the archive or listed as missing, which lists nothing else. Throws InvalidArchiveError with
 * the message a restore gives. The entries an event names are its stream's facts (`entries`). The
 * restore runner and the offline `appvault archive` commands share it.
 */
export async function checkArchive(reader: ArchiveContent, catalog: EventCatalog, validator: StatelessEventCheck, options: ArchiveCheckOptions = {}): Promise<ArchiveCheckReport> {
  refuseLoneIncrement(reader);
  const total = reader.manifest.counts.events;
  const every = options.progressEvery ?? 10_000;
  // The names the events name and the streams seen, one row each in a scratch file: at 1M events they are hundreds of thousands.
  const keys = ScratchKeys.create(options.scratchDir);
  try {
    const byKind: ArchiveCheckReport['streams'] = Object.fromEntries(catalog.streams.filter((d) => d.place !== 'installation').map((d) => [d.kind, 0]));
    const types: Record<string, number> = {};
    let scanned = 0;
    let first: number | undefined;
    let last: number | undefined;
    let firstEventAt: string | null = null;
    let lastEventAt: string | null = null;
    await reader.scan((event) => {
      // What can be checked on the archive alone is checked now, before anything is written.
      const placed = validator.place(event);
      const accepted = validator.accept(event, placed);
      const entries = placed.definition.entries?.(accepted, placed.entityId);
      if (entries) for (const name of entries) keys.add(NAMED, name);
      if (keys.add(STREAMS, event.stream)) byKind[placed.kind] = (byKind[placed.kind] ?? 0) + 1;
      types[event.type] = (types[event.type] ?? 0) + 1;
      const at = Date.parse(event.timestamp);
      if (first === undefined || at < first) [first, firstEventAt] = [at, event.timestamp];
      if (last === undefined || at > last) [last, lastEventAt] = [at, event.timestamp];
      options.onEvent?.(event, accepted, placed);
      if (++scanned % every === 0) options.onProgress?.(scanned, total);
    });
    const slicer = new TimeSlicer();
    for (const name of reader.namesOf('asset')) {
      if (!keys.has(NAMED, name)) throw new InvalidArchiveError(`The archive contains ${name}, but no event names that file; refusing the archive`);
      const turn = slicer.tick();
      if (turn) await turn;
    }
    const missing = new Set(reader.manifest.missing.map((m) => m.name));
    for (const name of missing) {
      if (!keys.has(NAMED, name)) throw new InvalidArchiveError(`The manifest lists ${name} as missing, but no event names that file`);
      const turn = slicer.tick();
      if (turn) await turn;
    }
    for (const page of keys.pages(NAMED)) {
      for (const name of page) {
        if (!reader.has(name) && !missing.has(name)) throw new InvalidArchiveError(`The events name ${name}, but the archive neither contains it nor lists it as missing`);
      }
      const turn = slicer.tick();
      if (turn) await turn;
    }
    const { counts } = reader.manifest;
    return { events: scanned, eventFiles: counts.eventFiles, assets: counts.assets, users: counts.users, missing: missing.size, streams: byKind, types, firstEventAt, lastEventAt };
  } finally {
    keys.close();
  }
}

/** An incremental archive is restored (and checked) only with its chain, base first (ArchiveChain): alone it is not a history. */
export function refuseLoneIncrement(reader: Pick<ArchiveContent, 'manifest'>): void {
  const base = reader.manifest.base;
  if (base) {
    throw new InvalidArchiveError(
      `This archive is incremental: it holds only the events after backup ${base.backupId} (its base, event ${base.events}); restore or verify it together with its base (the chain, base first)`,
    );
  }
}
