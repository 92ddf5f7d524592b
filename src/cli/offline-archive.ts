import { appStream } from '../apps/app.aggregate.js';
import { foldArchive } from '../archive/archive-diff.js';
import { type DiffPage, StateDiff } from '../archive/state-diff.js';
import { appsParticipant } from '../apps/apps.participant.js';
import type { RestoreParticipant } from '../archive/archive-participant.port.js';
import { type InspectObserver, type InspectReport, diffArchives, type DiffReport, inspectArchive } from '../archive/archive-inspector.js';
import { type RehearsalOptions, type RehearsalReport, type RehearsalSource, rehearseRestore } from '../archive/archive-verifier.js';
import { assetStream } from '../assets/asset.aggregate.js';
import { assetsRestore } from '../assets/assets.participant.js';
import { contentStream } from '../contents/content.aggregate.js';
import { contentsRestore } from '../contents/contents.participant.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { purgeStream } from '../eventsourcing/purge.events.js';
import { schemaStream, type SchemaState } from '../schemas/schema.aggregate.js';
import { userStream } from '../users/user.aggregate.js';
import { usersRestore } from '../users/users.participant.js';
import { withScratchFolder } from './scratch-folders.js';

/**
 * The server's own event catalog and restore participants, put together without Nest, a database
 * or a blob store, so the offline `appvault archive` commands check an archive exactly as a
 * restore by this version would: the restore's loop (src/archive) with a rehearsal sink, which
 * writes nothing. Users are looked up in no installation, so every archived user counts as one a
 * restore would create, with every users.json check on the way.
 */
function offlineInstallation(): { catalog: EventCatalog; participants: readonly RestoreParticipant[] } {
  const catalog = new EventCatalog();
  // The streams the domain modules register at start (and the projector's purge records).
  catalog.register(userStream);
  catalog.register(appStream);
  catalog.register(schemaStream);
  catalog.register(contentStream);
  catalog.register(assetStream);
  catalog.register(purgeStream);
  // The restore halves of the participants, in the order their modules register them.
  return { catalog, participants: [usersRestore, appsParticipant, contentsRestore, assetsRestore] };
}

export type VerifyOptions = Omit<RehearsalOptions, 'catalog' | 'participants' | 'lookupUser' | 'scratchDir'>;

/**
 * The checks' scratch files (scratch streams and keys) go to a temporary folder of the command's
 * own (scratch-folders.ts), so a signal that stops it removes them as well.
 */
const withCheckFolder = <T>(work: (scratchDir: string) => Promise<T>): Promise<T> => withScratchFolder('appvault-check-', work);

/** `appvault archive verify`: every check a restore makes, writing nothing. Throws InvalidArchiveError. */
export function verifyArchive(source: RehearsalSource, options: VerifyOptions): Promise<RehearsalReport> {
  return withCheckFolder((scratchDir) => rehearseRestore(source, { ...offlineInstallation(), ...options, scratchDir }));
}

/** A schema as `appvault archive inspect` lists it: as its last event left it. */
export interface SchemaSummary {
  id: string;
  name: string;
  fields: number;
  /** Contents of the schema that are not deleted. */
  contents: number;
  deleted: boolean;
}

/**
 * `appvault archive inspect`: what the archive holds, and its schemas, each folded with the schema
 * decider (a rollback's SchemaReverted counts as a command's events do) with its live contents.
 */
export async function inspectOffline(file: string, maxExpandedBytes: number): Promise<InspectReport & { schemas: SchemaSummary[] }> {
  const schemas = new Map<string, SchemaState>();
  // A content's schema and whether it is live; its data is not kept.
  const contents = new Map<string, { schemaId: string; live: boolean }>();
  const observe: InspectObserver = (_archived, event, placed) => {
    if (schemaStream.holds(event)) {
      schemas.set(placed.entityId, schemaStream.decider.evolve(schemas.get(placed.entityId) ?? schemaStream.decider.initialState(), event));
    } else if (contentStream.holds(event)) {
      const content = contents.get(placed.entityId);
      if (event.type === 'ContentCreated' || event.type === 'ContentReverted') contents.set(placed.entityId, { schemaId: event.data.schemaId, live: true });
      else if (event.type === 'ContentDeleted' && content) content.live = false;
    }
  };
  const report = await withCheckFolder((scratchDir) => inspectArchive(file, maxExpandedBytes, offlineInstallation().catalog, observe, scratchDir));
  const live = new Map<string, number>();
  for (const { schemaId, live: isLive } of contents.values()) if (isLive) live.set(schemaId, (live.get(schemaId) ?? 0) + 1);
  const summaries = [...schemas].map(([id, state]) => ({ id, name: state.name, fields: state.fields.length, contents: live.get(id) ?? 0, deleted: state.status === 'deleted' }));
  return { ...report, schemas: summaries.sort((a, b) => a.name.localeCompare(b.name)) };
}

/** `appvault archive diff`: what backup b adds to backup a of the same app. */
export function diffOffline(fileA: string, fileB: string, maxExpandedBytes: number): Promise<DiffReport> {
  return withCheckFolder((scratchDir) => diffArchives(fileA, fileB, maxExpandedBytes, offlineInstallation().catalog, scratchDir));
}

/** One side of an offline diff: the archive file and what it holds. */
export interface OfflineDiffSide {
  file: string;
  appId: string;
  appName: string;
  created: string | null;
  events: number;
}

/**
 * `appvault diff a.zip b.zip`: what differs from archive a's state to b's, per kind, folded and
 * compared in temporary SQLite files in a folder of this process's own (removed after, or when a
 * signal stops the command: scratch-folders.ts), as the server's diff route does; `after` and
 * `limit` page the changes.
 */
export async function stateDiffOffline(
  fileA: string,
  fileB: string,
  options: { maxExpandedBytes: number; after: number; limit: number },
): Promise<DiffPage & { from: OfflineDiffSide; to: OfflineDiffSide }> {
  const { catalog } = offlineInstallation();
  return withScratchFolder('appvault-diff-', async (folder) => {
    const diff = await StateDiff.create(folder, catalog);
    try {
      const side = async (which: 'from' | 'to', file: string): Promise<OfflineDiffSide> => {
        const source = await foldArchive(diff, which, file, { catalog, maxExpandedBytes: options.maxExpandedBytes });
        return { file, appId: source.app.id, appName: source.app.name, created: source.created, events: source.events };
      };
      const from = await side('from', fileA);
      const to = await side('to', fileB);
      await diff.compare();
      return { from, to, ...diff.report(options.after, options.limit) };
    } finally {
      await diff.dispose();
    }
  });
}
