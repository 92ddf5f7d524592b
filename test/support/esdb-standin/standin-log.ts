import { randomUUID } from 'node:crypto';

/**
 * The transaction log of the EventStoreDB stand-in, with the rules of a KurrentDB 24.x server that
 * AppVault's adapter meets (read from the server's source: IndexWriter.CheckCommit, AllReader,
 * StorageReaderWorker, the gRPC Streams service):
 *
 * - One append-only log of records. A record's position is its byte offset; the next record starts
 *   at position + size. Every event is written without an explicit transaction, so its commit and
 *   prepare positions are both its own offset. The log opens with a non-event record (the epoch) and
 *   the server's own `$epoch-information` event, as a fresh database does.
 * - $all reads and subscriptions start only at a record boundary (a record's start, or the end of
 *   the log); anything else is an invalid position (24.2+ refuses it instead of reading garbage).
 * - Streams have revisions 0, 1, 2…; `$$stream` holds their metadata: `$tb` (truncate before) and
 *   `$maxCount` hide earlier revisions from stream reads (not from $all, until a scavenge). A soft
 *   delete sets `$tb` to long.MaxValue; writing again re-creates the stream after its last revision.
 *   A tombstone is a record of type `$streamDeleted` in the stream; the stream is gone for good.
 * - Appends are checked against the expected revision with the server's idempotency rule: the same
 *   event ids sent again at the same expected revision succeed without being written twice.
 */

export const INT64_MAX = 9223372036854775807n;
/** `$tb` of a soft-deleted stream (long.MaxValue, which JSON turns into this float). */
const SOFT_DELETED_TB = 2 ** 62;

export interface LogRecord {
  position: number;
  size: number;
  stream: string;
  /** The event's revision in its stream; INT64_MAX for a tombstone. */
  revision: bigint;
  id: string;
  type: string;
  isJson: boolean;
  data: Uint8Array;
  metadata: Uint8Array;
  /** .NET ticks (100 ns) since the Unix epoch, as the server reports `created`. */
  created: bigint;
  /** A log record that is not an event (the epoch): it occupies positions, reads skip it. */
  internal?: boolean;
}

export interface ProposedEvent {
  id: string;
  type: string;
  isJson: boolean;
  data: Uint8Array;
  metadata: Uint8Array;
}

export type Expected = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'exists' } | { kind: 'revision'; revision: bigint };

export type AppendOutcome =
  | { kind: 'written'; last: LogRecord }
  | { kind: 'idempotent'; last: LogRecord }
  | { kind: 'wrong-expected-version'; current: bigint | 'no_stream' }
  | { kind: 'stream-deleted' };

export interface TfPos {
  commit: number;
  prepare: number;
}

export interface StreamMeta {
  tb?: number;
  maxCount?: number;
}

/** A read position the log refuses: not a record boundary (or past the end). */
export class InvalidPositionError extends Error {
  constructor(readonly position: TfPos) {
    super(`Invalid position C:${position.commit}/P:${position.prepare}: not the start of a record`);
  }
}

export class StreamDeletedError extends Error {
  constructor(readonly stream: string) {
    super(`Event stream '${stream}' is deleted.`);
  }
}

/** Each event costs its bytes plus a fixed record header, roughly as on disk. */
const RECORD_HEADER = 96;

export const compare = (a: TfPos, b: TfPos): number => (a.commit !== b.commit ? a.commit - b.commit : a.prepare - b.prepare);
export const recordPos = (record: LogRecord): TfPos => ({ commit: record.position, prepare: record.position });

interface StreamState {
  /** Records by revision (revisions are contiguous from 0). */
  events: LogRecord[];
  tombstone?: LogRecord;
}

export interface LogStats {
  /** Records the server looked at to answer reads and subscriptions (links resolved count too). */
  scanned: number;
  /** Calls per RPC (`Streams.Read`, `Streams.Append`, …), and per kind of read (`read:stream`, `read:all`, `subscribe:all`). */
  calls: Record<string, number>;
}

export class StandinLog {
  readonly records: LogRecord[] = [];
  private readonly byPosition = new Map<number, number>();
  private readonly streams = new Map<string, StreamState>();
  /** Every event id written, for the idempotency rule of `any` appends (the server keeps recent ones). */
  private readonly ids = new Map<string, LogRecord>();
  private readonly listeners = new Set<(record: LogRecord) => void>();
  private end = 0;
  readonly stats: LogStats = { scanned: 0, calls: {} };

  constructor() {
    this.write({ id: randomUUID(), type: '$epoch', isJson: false, data: new Uint8Array(64), metadata: new Uint8Array() }, '$epoch', -1n, true);
    this.write(
      { id: randomUUID(), type: '$epoch-information', isJson: true, data: json({ epochNumber: 0, epochId: randomUUID() }), metadata: new Uint8Array() },
      '$epoch-information',
      0n,
    );
  }

  get endPosition(): number {
    return this.end;
  }

  count(call: string): void {
    this.stats.calls[call] = (this.stats.calls[call] ?? 0) + 1;
  }

  resetStats(): void {
    this.stats.scanned = 0;
    for (const key of Object.keys(this.stats.calls)) delete this.stats.calls[key];
  }

  onAppended(listener: (record: LogRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a read may start at `pos`: the start of a record, or the end of the log. */
  isBoundary(pos: TfPos): boolean {
    if (pos.commit === this.end) return pos.prepare === this.end || pos.prepare === 0;
    if (!this.byPosition.has(pos.commit)) return false;
    return pos.prepare === pos.commit || pos.prepare === 0;
  }

  assertBoundary(pos: TfPos): void {
    if (pos.commit < 0 || pos.commit > this.end || !this.isBoundary(pos)) throw new InvalidPositionError(pos);
  }

  /** Index of the first record at or after `pos` (records are sorted by position). */
  indexAtOrAfter(pos: TfPos): number {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(recordPos(this.records[mid]!), pos) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Stream metadata as the last `$$stream` event says. */
  metadataOf(stream: string): StreamMeta {
    const meta = this.streams.get(`$$${stream}`)?.events.at(-1);
    if (!meta?.isJson) return {};
    try {
      const parsed = JSON.parse(Buffer.from(meta.data).toString('utf8')) as Record<string, unknown>;
      return {
        ...(typeof parsed['$tb'] === 'number' ? { tb: parsed['$tb'] } : {}),
        ...(typeof parsed['$maxCount'] === 'number' ? { maxCount: parsed['$maxCount'] } : {}),
      };
    } catch {
      return {};
    }
  }

  isTombstoned(stream: string): boolean {
    return this.streams.get(stream)?.tombstone !== undefined;
  }

  lastRevision(stream: string): number {
    return (this.streams.get(stream)?.events.length ?? 0) - 1;
  }

  private isSoftDeleted(stream: string): boolean {
    return (this.metadataOf(stream).tb ?? 0) >= SOFT_DELETED_TB;
  }

  /** The first revision stream reads still show. */
  firstVisible(stream: string): number {
    const meta = this.metadataOf(stream);
    const last = this.lastRevision(stream);
    let first = meta.tb ?? 0;
    if (meta.maxCount !== undefined) first = Math.max(first, last + 1 - meta.maxCount);
    return first;
  }

  /**
   * The events of a stream that reads show, or 'deleted' (tombstoned) / 'not-found' (never written,
   * soft-deleted, or a metastream of a tombstoned stream).
   */
  visibleEvents(stream: string): LogRecord[] | 'deleted' | 'not-found' {
    if (stream.startsWith('$$') && this.isTombstoned(stream.slice(2))) return 'deleted';
    const state = this.streams.get(stream);
    if (state?.tombstone) return 'deleted';
    if (!state || state.events.length === 0) return 'not-found';
    if (this.isSoftDeleted(stream)) return 'not-found';
    return state.events.slice(Math.max(0, this.firstVisible(stream)));
  }

  /** A link's target as a stream read resolves it: undefined when it is gone (deleted, truncated) or malformed. */
  resolveLink(link: LogRecord): LogRecord | undefined {
    const text = Buffer.from(link.data).toString('utf8');
    const at = text.indexOf('@');
    const revision = Number(text.slice(0, at));
    if (at < 1 || !Number.isSafeInteger(revision)) return undefined;
    const stream = text.slice(at + 1);
    this.stats.scanned += 1;
    const visible = this.visibleEvents(stream);
    if (typeof visible === 'string') return undefined;
    return visible.find((r) => Number(r.revision) === revision);
  }

  /** The server's commit check (IndexWriter.CheckCommit), then the write. */
  append(stream: string, expected: Expected, events: readonly ProposedEvent[]): AppendOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstone) return { kind: 'stream-deleted' };
    const current = BigInt(this.lastRevision(stream));
    const currentOrNone = current < 0n ? 'no_stream' : current;
    const softDeleted = this.isSoftDeleted(stream);

    if (expected.kind === 'exists') {
      if (softDeleted) return { kind: 'stream-deleted' };
      if (current < 0n && this.lastRevision(`$$${stream}`) < 0) return { kind: 'wrong-expected-version', current: 'no_stream' };
    }
    if (expected.kind === 'any' || expected.kind === 'exists') {
      const found = events.map((e) => this.ids.get(e.id));
      if (events.length > 0 && found[0]?.stream === stream) {
        const consecutive = found.every((r, i) => r?.stream === stream && r.revision === found[0]!.revision + BigInt(i));
        if (!consecutive) return { kind: 'wrong-expected-version', current: currentOrNone };
        return { kind: 'idempotent', last: found.at(-1)! };
      }
      return this.writeAll(stream, events, softDeleted);
    }
    const expectedRevision = expected.kind === 'no_stream' ? -1n : expected.revision;
    if (expectedRevision < current) {
      let revision = expectedRevision;
      for (const event of events) {
        revision += 1n;
        const existing = state?.events[Number(revision)];
        if (existing && existing.id === event.id) continue;
        if (revision === expectedRevision + 1n && expected.kind === 'no_stream' && softDeleted) return this.writeAll(stream, events, true);
        return { kind: 'wrong-expected-version', current: currentOrNone };
      }
      if (events.length === 0) return { kind: 'wrong-expected-version', current: currentOrNone };
      return { kind: 'idempotent', last: state!.events[Number(revision)]! };
    }
    if (expectedRevision > current) return { kind: 'wrong-expected-version', current: currentOrNone };
    return this.writeAll(stream, events, softDeleted);
  }

  private writeAll(stream: string, events: readonly ProposedEvent[], recreate: boolean): AppendOutcome {
    const before = this.lastRevision(stream);
    let last: LogRecord | undefined;
    for (const event of events) last = this.write(event, stream, BigInt(this.lastRevision(stream) + 1));
    if (recreate && events.length > 0) {
      // Writing to a soft-deleted stream brings it back, its old revisions hidden (as the server's metadata rewrite does).
      const meta = this.readMetaObject(stream);
      this.appendSystem(`$$${stream}`, '$metadata', { ...meta, $tb: before + 1 });
    }
    if (!last) return { kind: 'written', last: this.records.at(-1)! };
    return { kind: 'written', last };
  }

  private readMetaObject(stream: string): Record<string, unknown> {
    const meta = this.streams.get(`$$${stream}`)?.events.at(-1);
    if (!meta) return {};
    try {
      return JSON.parse(Buffer.from(meta.data).toString('utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  }

  /** A soft delete: `$tb` = long.MaxValue in the metastream; reads answer "not found" until the stream is written again. */
  softDelete(stream: string): LogRecord | StreamDeletedError {
    if (this.isTombstoned(stream)) return new StreamDeletedError(stream);
    return this.appendSystem(`$$${stream}`, '$metadata', { ...this.readMetaObject(stream), $tb: Number(INT64_MAX) });
  }

  /** A hard delete: a `$streamDeleted` record in the stream; nothing is written to or read from it again. */
  tombstone(stream: string): LogRecord | StreamDeletedError {
    if (this.isTombstoned(stream)) return new StreamDeletedError(stream);
    const record = this.write({ id: randomUUID(), type: '$streamDeleted', isJson: false, data: new Uint8Array(), metadata: new Uint8Array() }, stream, INT64_MAX);
    return record;
  }

  /** Writes a JSON system event (metadata, the server's own bookkeeping) without checks. */
  appendSystem(stream: string, type: string, data: unknown): LogRecord {
    return this.write({ id: randomUUID(), type, isJson: true, data: json(data), metadata: new Uint8Array() }, stream, BigInt(this.lastRevision(stream) + 1));
  }

  private write(event: ProposedEvent, stream: string, revision: bigint, internal = false): LogRecord {
    const size = RECORD_HEADER + 2 * Buffer.byteLength(stream) + 2 * event.type.length + event.data.length + event.metadata.length;
    const record: LogRecord = {
      position: this.end,
      size,
      stream,
      revision,
      id: event.id,
      type: event.type,
      isJson: event.isJson,
      data: event.data,
      metadata: event.metadata,
      created: BigInt(Date.now()) * 10_000n,
      ...(internal ? { internal } : {}),
    };
    this.byPosition.set(record.position, this.records.length);
    this.records.push(record);
    this.end += size;
    if (!internal) {
      let state = this.streams.get(stream);
      if (!state) this.streams.set(stream, (state = { events: [] }));
      if (revision === INT64_MAX) state.tombstone = record;
      else {
        state.events.push(record);
        this.ids.set(event.id, record);
      }
    }
    for (const listener of this.listeners) listener(record);
    return record;
  }
}

export function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
