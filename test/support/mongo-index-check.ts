import type { FakeIndex, RecordedCall } from './fake-mongo.js';

/**
 * Whether an index serves a query the way MongoDB's planner would use it without a blocking sort
 * or a collection scan: the filter's equality fields (values, or `$in` lists when nothing is
 * sorted) are exactly the index's first fields, in any order, and the sort is the index's next
 * fields, each in the index's direction or each in the opposite one (an index read backwards).
 * Other conditions (full-text words, ranges) are checked against the documents the index yields.
 * A lookup by `_id` is always served (the unique `_id` index); so is a query with neither an
 * equality nor a sort (it reads everything by nature: an unfiltered count, emptying a collection).
 */
export function servedBy(call: RecordedCall, index: FakeIndex): boolean {
  const sort = Object.entries(call.sort ?? {});
  const points = equalityFields(call, sort.length > 0);
  const keys = Object.entries(index.key);
  const prefix = keys.slice(0, points.size).map(([field]) => field);
  if (prefix.length !== points.size || !prefix.every((field) => points.has(field))) return false;
  const rest = keys.slice(points.size, points.size + sort.length);
  if (rest.length !== sort.length) return false;
  const same = sort.every(([field, direction], i) => rest[i]![0] === field && rest[i]![1] === direction);
  const reversed = sort.every(([field, direction], i) => rest[i]![0] === field && rest[i]![1] === -direction);
  return same || reversed;
}

/** Problems with each recorded query (find, findOne, count, filtered deletes), one line each. */
export function unservedQueries(calls: readonly RecordedCall[], indexesOf: (collection: string) => FakeIndex[]): string[] {
  const problems: string[] = [];
  for (const call of calls) {
    if (call.filter === undefined) continue;
    const sorted = call.sort !== undefined && Object.keys(call.sort).length > 0;
    const points = equalityFields(call, sorted);
    if (points.has('_id')) continue;
    if (points.size === 0 && !sorted) continue;
    const indexes = indexesOf(call.collection);
    if (indexes.some((index) => servedBy(call, index))) continue;
    problems.push(
      `${call.collection}.${call.op} filter ${describe(call.filter)} sort ${JSON.stringify(call.sort ?? {})}: no index starts with [${[...points].join(', ')}] and continues with the sort; indexes: ${indexes.map((index) => JSON.stringify(index.key)).join(' ')}`,
    );
  }
  return [...new Set(problems)];
}

function equalityFields(call: RecordedCall, sorted: boolean): Set<string> {
  const points = new Set<string>();
  for (const [field, condition] of Object.entries(call.filter ?? {})) {
    if (isValue(condition)) points.add(field);
    else if (isInList(condition) && (!sorted || condition.$in.length <= 1 || field === '_id')) points.add(field);
  }
  return points;
}

function isValue(condition: unknown): boolean {
  if (condition === null || ['string', 'number', 'boolean'].includes(typeof condition)) return true;
  return typeof condition === 'object' && typeof (condition as { toHexString?: unknown }).toHexString === 'function';
}

function isInList(condition: unknown): condition is { $in: unknown[] } {
  return typeof condition === 'object' && condition !== null && Object.keys(condition).length === 1 && Array.isArray((condition as { $in?: unknown }).$in);
}

function describe(filter: Record<string, unknown>): string {
  return JSON.stringify(filter, (_key, value: unknown) => (value instanceof RegExp ? String(value) : value));
}
