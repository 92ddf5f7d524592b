import type { AppendResult, ExpectedVersion, NewEvent } from './event-store.port.js';

/** The statements an append needs; the main thread and the append worker prepare the same ones. */
export const APPEND_SQL = {
  insert: 'INSERT INTO events (stream, stream_version, app_id, app_number, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
  versionOf: 'SELECT MAX(stream_version) AS v FROM events WHERE stream = ?',
  lastAppNumber: 'SELECT MAX(app_number) AS n FROM events WHERE app_id = ?',
} as const;

export interface AppendStatements {
  insert: { run(...params: [string, number, string | null, number | null, string, string, string]): { lastInsertRowid: number | bigint } };
  versionOf: { get(stream: string): { v: number | null } | undefined };
  lastAppNumber: { get(appId: string): { n: number | null } | undefined };
}

export type StreamRowsOutcome = AppendResult | { conflict: { stream: string; expected: ExpectedVersion; actual: number } };

/**
 * Writes one stream's events as rows, inside a transaction the caller holds: checks the expected
 * version, numbers each event within its app, and inserts. The append worker runs this very
 * function (its source is this function's text), so it must not use anything from outside it.
 */
export function writeStreamRows(statements: AppendStatements, stream: string, events: readonly NewEvent[], expectedVersion: ExpectedVersion): StreamRowsOutcome {
  const current = statements.versionOf.get(stream)?.v ?? -1;
  if (expectedVersion !== 'any' && expectedVersion !== current) return { conflict: { stream, expected: expectedVersion, actual: current } };
  let version = current;
  let position = 0;
  const numbers = new Map<string, number>();
  for (const event of events) {
    version += 1;
    const appId = event.metadata.appId ?? null;
    let number: number | null = null;
    if (appId) {
      number = (numbers.get(appId) ?? statements.lastAppNumber.get(appId)?.n ?? 0) + 1;
      numbers.set(appId, number);
    }
    position = Number(statements.insert.run(stream, version, appId, number, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata)).lastInsertRowid);
  }
  return { streamVersion: version, position };
}
