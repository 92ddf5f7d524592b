import { z } from 'zod';
import { ASSET_CHOICES, type AssetChoice } from '../contract/api-values.js';
import { MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS } from '../contract/backups.schemas.js';
import { entityId, NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';

/**
 * What a partial archive holds, as the format stores it (manifest `include`, selection.json; see
 * docs/backup-format.md), and the working set of a partial backup's first pass over the history.
 * Its choices and limits are the HTTP contract's (a request's `include`), which archives keep.
 */

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
export function normalizeSelection(input: { schemas?: string[] | null; contents?: string[] | null; assets?: AssetChoice } | null | undefined): BackupSelection | null {
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

/**
 * The working set of a partial backup's first pass over the app's history. Participants keep the
 * streams that belong to the selection (BackupSession.select) and note what kept events point at;
 * a stream kept "if referenced" is kept once the pass has seen every reference. Holds stream names
 * and ids only, never event data.
 */
export class StreamSelection {
  private readonly kept = new Set<string>();
  private readonly references = new Map<string, Set<string>>();
  private readonly ifReferenced: { stream: string; kind: string; id: string }[] = [];

  constructor(
    readonly appId: string,
    readonly selection: BackupSelection,
  ) {}

  keep(stream: string): void {
    this.kept.add(stream);
  }

  isKept(stream: string): boolean {
    return this.kept.has(stream);
  }

  /** A kept event points at the entity `id` of kind `kind` (an asset a content's field names). */
  refer(kind: string, id: string): void {
    let ids = this.references.get(kind);
    if (!ids) this.references.set(kind, (ids = new Set()));
    ids.add(id);
  }

  /** Keeps `stream` once the pass is over if a kept event referred to its entity (`kind`, `id`). */
  keepIfReferenced(stream: string, kind: string, id: string): void {
    this.ifReferenced.push({ stream, kind, id });
  }

  /** After the pass: keeps the streams whose entities kept events referred to. */
  settle(): void {
    for (const { stream, kind, id } of this.ifReferenced) if (this.references.get(kind)?.has(id)) this.kept.add(stream);
    this.ifReferenced.length = 0;
  }
}
