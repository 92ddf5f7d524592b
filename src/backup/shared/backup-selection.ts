import { z } from 'zod';
import { ASSET_CHOICES, type AssetChoice } from '../../contract/api-values.js';
import { type BackupIncludeInput, MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS } from '../../contract/backups.schemas.js';
import { NAME_MAX, NAME_PATTERN } from '../../apps/app.events.js';
import { entityId } from '../../eventsourcing/event-catalog.js';

// What a request may select is part of the HTTP contract.
export { ASSET_CHOICES, type AssetChoice } from '../../contract/api-values.js';
export { BackupIncludeBody, type BackupIncludeInput, MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS } from '../../contract/backups.schemas.js';

/** A selection as stored on the job and in the archive: every key present, sorted, without repeats. */
export interface BackupSelection {
  schemas: string[] | null;
  contents: string[] | null;
  assets: AssetChoice;
}

/** A selection as an archive carries it (manifest `include`, selection.json): every key present. */
export const StoredSelection = z.strictObject({
  schemas: z.array(z.string().max(NAME_MAX).regex(NAME_PATTERN)).min(1).max(MAX_SELECTED_SCHEMAS).nullable(),
  contents: z.array(entityId()).min(1).max(MAX_SELECTED_CONTENTS).nullable(),
  assets: z.enum(ASSET_CHOICES),
});

export const sameSelection = (a: BackupSelection, b: BackupSelection) => JSON.stringify(normalizeSelection(a)) === JSON.stringify(normalizeSelection(b));

/** The stored form of what a request asked for, or `null` when it asked for the whole app. */
export function normalizeSelection(input: BackupIncludeInput | null | undefined): BackupSelection | null {
  if (!input) return null;
  const unique = (items: string[] | null | undefined) => (items ? [...new Set(items)].sort() : null);
  const selection: BackupSelection = { schemas: unique(input.schemas), contents: unique(input.contents), assets: input.assets ?? 'all' };
  return isWholeApp(selection) ? null : selection;
}

export const isWholeApp = (selection: BackupSelection) => selection.schemas === null && selection.contents === null && selection.assets === 'all';

/** One line for logs and the CLI: "schemas products, notes; 3 contents; assets: referenced". */
export function describeSelection(selection: BackupSelection | null): string {
  if (!selection) return 'the whole app';
  const parts = [
    selection.schemas ? `schema${selection.schemas.length === 1 ? '' : 's'} ${selection.schemas.join(', ')}` : 'every schema',
    selection.contents ? `${selection.contents.length} listed content${selection.contents.length === 1 ? '' : 's'}` : 'all their contents',
    `assets: ${selection.assets}`,
  ];
  return parts.join('; ');
}

export type ReferenceKind = 'asset' | 'content';

/**
 * The working set of a partial backup's first pass over the app's history. Domain handlers keep
 * the streams that belong to the selection (BackupHandler.selectEvent) and note what kept events
 * point at, so a later step can keep what depends on the whole history (referenced assets).
 * Holds stream names and ids only, never event data.
 */
export class StreamSelection {
  private readonly kept = new Set<string>();
  private readonly references: Record<ReferenceKind, Set<string>> = { asset: new Set(), content: new Set() };
  private readonly scratch = new Map<string, unknown>();
  /** The listed names and ids as sets: the pass asks once per entity of the app. */
  private readonly schemas: ReadonlySet<string> | null;
  private readonly contents: ReadonlySet<string> | null;

  constructor(
    readonly appId: string,
    readonly selection: BackupSelection,
  ) {
    this.schemas = selection.schemas ? new Set(selection.schemas) : null;
    this.contents = selection.contents ? new Set(selection.contents) : null;
  }

  /** True when the selection takes the schema of this name (all are taken when it names none). */
  takesSchema(name: string): boolean {
    return this.schemas === null || this.schemas.has(name);
  }

  /** True when the selection takes this content of a taken schema (all when it lists none). */
  takesContent(id: string): boolean {
    return this.contents === null || this.contents.has(id);
  }

  keep(stream: string): void {
    this.kept.add(stream);
  }

  isKept(stream: string): boolean {
    return this.kept.has(stream);
  }

  refer(kind: ReferenceKind, id: string): void {
    this.references[kind].add(id);
  }

  isReferenced(kind: ReferenceKind, id: string): boolean {
    return this.references[kind].has(id);
  }

  /** A handler's own working state for this pass (created on first use). */
  state<T>(owner: string, create: () => T): T {
    if (!this.scratch.has(owner)) this.scratch.set(owner, create());
    return this.scratch.get(owner) as T;
  }
}
