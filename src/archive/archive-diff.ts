import { dirname } from 'node:path';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import type { Manifest } from './archive-format.js';
import type { RehearsalSource } from './archive-chain.js';
import { openChecked } from './archive-inspector.js';
import type { DiffSide, StateDiff } from './state-diff.js';

/** What one side of a diff is taken from. */
export interface DiffSource {
  app: Manifest['app'];
  /** When the backup was made; null for the live app. */
  created: string | null;
  events: number;
}

/**
 * Folds an archive's events into one side of a diff, as it reads them once: every check a restore
 * makes before it writes anything runs on the way (archive-check.ts), so a diff never shows an
 * archive a restore would refuse, and each event is folded as the current version of its type
 * describes it. The checks keep their scratch file next to the diff's. Throws InvalidArchiveError.
 */
export async function foldArchive(
  diff: StateDiff,
  side: DiffSide,
  file: RehearsalSource,
  options: { catalog: EventCatalog; maxExpandedBytes: number; untilEvent?: number; until?: string },
): Promise<DiffSource> {
  // As a restore with untilEvent or until stops: at the first event past it (the rest is still checked).
  const until = options.until === undefined ? undefined : Date.parse(options.until);
  let stopped = false;
  const { reader, report } = await openChecked(file, options.maxExpandedBytes, options.catalog, (archived, accepted, placed) => {
    stopped ||= (options.untilEvent !== undefined && archived.number > options.untilEvent) || (until !== undefined && Date.parse(archived.timestamp) > until);
    if (!stopped) diff.fold(side, archived.stream, placed.kind, placed.entityId, accepted);
  }, dirname(diff.file));
  reader.close();
  return { app: reader.manifest.app, created: reader.manifest.created, events: report.events };
}
