import {
  ANY,
  type AppendExpectedRevision,
  type AppendResult as ClientAppendResult,
  CancelledError,
  DeadlineExceededError,
  jsonEvent,
  MaxAppendSizeExceededError,
  NO_STREAM,
  NotLeaderError,
  type Position,
  StreamDeletedError,
  StreamNotFoundError,
  type StreamingRead,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type AppendResult,
  type EventMetadata,
  EventTooLargeError,
  type ExpectedVersion,
  isAppVaultStream,
  type NewEvent,
  type StoredEvent,
  UncertainWriteError,
  WrongExpectedVersionError,
} from './event-store.port.js';

/**
 * How EventStoreDB's client types and errors map to the port's, as plain functions (unit tested on
 * their own; the adapter's behaviour is tested against the stand-in server).
 */

/** The parts of a client ResolvedEvent the adapter reads (the client's own types are assignable to it). */
export interface RecordedEventLike {
  streamId: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

export interface ResolvedEventLike {
  event?: RecordedEventLike;
  link?: RecordedEventLike;
  commitPosition?: bigint;
}

/** AppVault's own bookkeeping streams in the store (the per-app index and its checkpoint): never app events. */
export const BOOKKEEPING_PREFIX = 'appvault-';

/** Port expected version to the client's: -1 means the stream must not exist yet. */
export function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === -1) return NO_STREAM;
  if (!Number.isSafeInteger(expected) || expected < -1) throw new RangeError(`Invalid expected version ${expected}`);
  return BigInt(expected);
}

/** The server's MaxAppendSize unless it was raised; EVENTSTORE_MAX_APPEND_BYTES tells the adapter otherwise. */
export const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;
/** What an event costs in an append besides its data and metadata (id, type, content types, framing). */
const EVENT_OVERHEAD_BYTES = 128;

/** Bytes one event takes in an append, a little more than the server counts (data, metadata, type twice). */
export function appendBytes(event: NewEvent): number {
  return Buffer.byteLength(JSON.stringify(event.data)) + Buffer.byteLength(JSON.stringify(event.metadata)) + 2 * event.type.length + EVENT_OVERHEAD_BYTES;
}

/**
 * Splits events into consecutive chunks whose size stays within `maxBytes` (90% of it, for the
 * protocol's own bytes). One event larger than that can never be stored: EventTooLargeError.
 */
export function chunkForAppend(stream: string, events: readonly NewEvent[], maxBytes: number): NewEvent[][] {
  const budget = Math.floor(maxBytes * 0.9);
  const chunks: NewEvent[][] = [];
  let chunk: NewEvent[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = appendBytes(event);
    if (bytes > budget) {
      throw new EventTooLargeError(
        `A ${event.type} event for ${stream} is about ${bytes} bytes, more than EventStoreDB accepts in one append (${budget} of its ${maxBytes} bytes, EVENTSTORE_MAX_APPEND_BYTES); make the change smaller, or raise MaxAppendSize on the server and EVENTSTORE_MAX_APPEND_BYTES with it`,
      );
    }
    if (chunk.length > 0 && size + bytes > budget) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(event);
    size += bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * Whether a failed call may still have done its work: the client gave up waiting (deadline), the
 * connection went (unavailable, cancelled by the server), the node stopped being the leader, or
 * the server's own commit timed out. Such a write is sent again with the same event ids.
 */
export function isUncertain(error: unknown): boolean {
  return (
    error instanceof DeadlineExceededError ||
    error instanceof UnavailableError ||
    error instanceof NotLeaderError ||
    error instanceof CancelledError ||
    error instanceof TimeoutError ||
    // gRPC INTERNAL without a server exception: the HTTP/2 stream was reset under the call (a
    // connection dropped mid-answer reads as "RST_STREAM code 0"), so the server may have written.
    (error instanceof UnknownError && error.code === GRPC_INTERNAL)
  );
}

/** gRPC status 13. */
const GRPC_INTERNAL = 13;

/**
 * The client's errors as the port's: a concurrency conflict with the stream's actual version (-1:
 * no stream), the server's size limit with what to change, a write whose fate is unknown.
 */
export function mapAppendError(error: unknown, stream: string, expected: ExpectedVersion, events = 0): Error {
  if (error instanceof ClientWrongExpectedVersionError) {
    const actual = error.actualVersion === NO_STREAM ? -1 : Number(error.actualVersion);
    return new WrongExpectedVersionError(stream, expected, actual);
  }
  if (error instanceof MaxAppendSizeExceededError) {
    return new Error(
      `EventStoreDB refused an append of ${events} event(s) to ${stream}: larger than its MaxAppendSize of ${error.maxAppendSize} bytes. Set EVENTSTORE_MAX_APPEND_BYTES to at most that size, or raise MaxAppendSize on the server.`,
    );
  }
  const cause = error instanceof Error ? error : new Error(String(error));
  if (isUncertain(error)) {
    return new UncertainWriteError(`EventStoreDB did not confirm an append to ${stream} (${cause.message}); it may or may not be stored`, cause);
  }
  return cause;
}

/**
 * Global positions are the commit positions of $all, byte offsets into the transaction log, so a
 * Number holds them exactly up to 2^53 bytes (8 PiB) of log. Every event written without an explicit
 * transaction (the only kind the gRPC API writes) has commit position == prepare position == its own
 * log position, distinct and increasing even inside one multi-event append.
 */
export function toSafePosition(commit: bigint): number {
  if (commit < 0n || commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`EventStoreDB position ${commit} does not fit in a safe integer`);
  }
  return Number(commit);
}

/** The $all position of an event we handed out; see toSafePosition for why prepare equals commit. */
export function toAllPosition(position: number): Position {
  return { commit: BigInt(position), prepare: BigInt(position) };
}

/** Positions in $all order (commit, then prepare): a server checkpoint may be (P, 0), "before the record at P". */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The global position of a read event; 0 would be the log's first record, never a user event. */
export function positionOf(resolved: ResolvedEventLike): number {
  const commit = resolved.event?.position?.commit ?? resolved.commitPosition;
  if (commit === undefined || commit === 0n) {
    throw new Error(
      `EventStoreDB reported no position for event ${resolved.event?.streamId ?? '?'}@${resolved.event?.revision ?? '?'}` +
        ' (stream reads carry positions from server 22.6 on)',
    );
  }
  return toSafePosition(commit);
}

export function toAppendResult(result: Pick<ClientAppendResult, 'nextExpectedRevision' | 'position'>): AppendResult {
  if (!result.position) throw new Error('EventStoreDB reported no position for the append');
  // The append reports the commit position of its last event, the same number $all shows for it.
  return { streamVersion: Number(result.nextExpectedRevision), position: toSafePosition(result.position.commit) };
}

/**
 * Records that are nobody's app events: the server's own (`$` types and streams: metadata, links,
 * tombstones, epochs) and AppVault's bookkeeping (the per-app index and its checkpoint).
 */
export function isBookkeeping(resolved: ResolvedEventLike): boolean {
  const event = resolved.event;
  return !event || event.type.startsWith('$') || event.streamId.startsWith('$') || event.streamId.startsWith(BOOKKEEPING_PREFIX);
}

/** Why an event is not one AppVault wrote, or undefined when it is. */
export function whyForeign(event: RecordedEventLike): string | undefined {
  if (!isAppVaultStream(event.streamId)) return 'its stream is not named as AppVault names streams';
  if (!event.isJson || !isPlainObject(event.data)) return 'it is not a JSON object';
  if (!isEventMetadata(event.metadata)) return 'it has no AppVault metadata';
  return undefined;
}

export function toStoredEvent(resolved: ResolvedEventLike): StoredEvent {
  const event = resolved.event;
  if (!event) throw new Error('EventStoreDB returned a read result without an event');
  const where = `${event.streamId}@${event.revision}`;
  if (!event.isJson || !isPlainObject(event.data)) throw new Error(`Event ${where} is not a JSON object`);
  if (!isEventMetadata(event.metadata)) throw new Error(`Event ${where} has no AppVault metadata`);
  return {
    stream: event.streamId,
    streamVersion: Number(event.revision),
    position: positionOf(resolved),
    type: event.type,
    data: event.data,
    metadata: event.metadata,
  };
}

export function toEventData(event: NewEvent) {
  return jsonEvent({ type: event.type, data: event.data, metadata: { ...event.metadata }, ...(event.id ? { id: event.id } : {}) });
}

/**
 * The source of a regular expression matching exactly the streams of one app: `app-{id}` and
 * `{schema|content|asset}-{id}--{childId}`. It uses only syntax .NET and JavaScript read alike, so
 * the same string serves as the server-side stream filter.
 */
export function appStreamRegex(appId: string): string {
  const id = escapeRegex(appId);
  return `^(?:app-${id}|(?:schema|content|asset)-${id}--.+)$`;
}

export function appStreamFilter(appId: string): RegExp {
  return new RegExp(appStreamRegex(appId));
}

/** Every stream but the server's (`$…`) and AppVault's bookkeeping, for the index writer's subscription. */
export const NOT_BOOKKEEPING_STREAM_REGEX = `^(?!\\$|${BOOKKEEPING_PREFIX})`;

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

export function isMissingStream(error: unknown): boolean {
  return error instanceof StreamNotFoundError || error instanceof StreamDeletedError;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isEventMetadata(value: unknown): value is EventMetadata {
  if (!isPlainObject(value)) return false;
  return (
    typeof value['actor'] === 'string' &&
    typeof value['timestamp'] === 'string' &&
    typeof value['schemaVersion'] === 'number' &&
    (value['appId'] === undefined || typeof value['appId'] === 'string')
  );
}

/** Iterates a client read and, when the consumer stops early, cancels the gRPC call behind it. */
export async function* drain<T>(read: StreamingRead<T>): AsyncGenerator<T> {
  try {
    for await (const item of read) yield item;
  } finally {
    if (!read.readableEnded) await read.cancel();
  }
}
