import type { DiffPreview, DiffValue } from '../contract/diffs.schemas.js';

const valueText = (value: DiffValue | null) => (value === null ? '' : value.truncated ? `${value.json}… (cut; ${value.length} characters in all)` : value.json);
const SIGN = { added: '+', removed: '-', changed: '~' } as const;

/**
 * A diff (a page of `appvault diff`, or the preview in a rollback's or a restore's dry run) as
 * lines, each starting with `indent`: the counts per kind, then each change with the properties
 * that differ and the file versions added or gone. `more` says how to see the changes after these.
 * The values are the server's or an archive's text: Output escapes every line it prints.
 */
export function diffLines(diff: DiffPreview, indent: string, more = (next: string) => `more: add --cursor ${next} for the next page`): string[] {
  const lines: string[] = [];
  for (const [kind, count] of Object.entries(diff.summary)) lines.push(`${indent}${kind.padEnd(13)} ${count.added} added, ${count.removed} removed, ${count.changed} changed`);
  if (diff.total === 0) {
    lines.push(`${indent}no differences`);
    return lines;
  }
  lines.push(`${indent}changes (${diff.items.length} of ${diff.total} shown):`);
  for (const item of diff.items) {
    const label = item.label !== item.id ? ` ${item.label}` : '';
    lines.push(`${indent}${SIGN[item.change]} ${item.kind} ${item.id}${label}${item.labelBefore !== null ? ` (was ${item.labelBefore})` : ''}`);
    for (const property of item.properties) {
      const text = property.change === 'changed' ? `${valueText(property.before)} → ${valueText(property.after)}` : valueText(property.after ?? property.before);
      lines.push(`${indent}    ${SIGN[property.change]} ${property.name}: ${text}`);
    }
    for (const version of item.versionsAdded) lines.push(`${indent}    + file version ${version.version}: ${valueText(version.value)}`);
    for (const version of item.versionsRemoved) lines.push(`${indent}    - file version ${version.version}: ${valueText(version.value)}`);
  }
  if (diff.next !== null) lines.push(`${indent}${more(diff.next)}`);
  return lines;
}
