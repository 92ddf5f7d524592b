import type { DiffItem } from './diffs.schemas.js';

/** One kind's changes of a page, as the HTTP contract groups them. */
export type KindChanges = { added: DiffItem[]; removed: DiffItem[]; changed: DiffItem[] };

/**
 * A page's changes grouped per kind and change (`{ schemas: { added, removed, changed }, … }`),
 * every kind of the summary listed, empty ones included: the contract's view of the page's items
 * (the same objects, by reference). Pure, so the command line can use it without loading more.
 */
export function changesByKind(page: { summary: Record<string, unknown>; items: readonly DiffItem[] }): Record<string, KindChanges> {
  const grouped: Record<string, KindChanges> = {};
  for (const kind of Object.keys(page.summary)) grouped[kind] = { added: [], removed: [], changed: [] };
  for (const item of page.items) (grouped[item.kind] ??= { added: [], removed: [], changed: [] })[item.change].push(item);
  return grouped;
}
