import type { Http2Session } from 'node:http2';
import { createRequire } from 'node:module';
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import {
  compare,
  type Expected,
  InvalidPositionError,
  json,
  type LogRecord,
  type ProposedEvent,
  recordPos,
  StandinLog,
  StreamDeletedError,
  type TfPos,
} from './standin-log.js';

// The service definitions and messages the client itself ships (generated from the server's protos).
const require = createRequire(import.meta.url);
const streamsPb = require('@eventstore/db-client/generated/streams_pb.js') as typeof import('@eventstore/db-client/generated/streams_pb.js');
const sharedPb = require('@eventstore/db-client/generated/shared_pb.js') as typeof import('@eventstore/db-client/generated/shared_pb.js');
const statusPb = require('@eventstore/db-client/generated/status_pb.js') as typeof import('@eventstore/db-client/generated/status_pb.js');
const codePb = require('@eventstore/db-client/generated/code_pb.js') as typeof import('@eventstore/db-client/generated/code_pb.js');
const featuresPb = require('@eventstore/db-client/generated/serverfeatures_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_pb.js');
const streamsGrpc = require('@eventstore/db-client/generated/streams_grpc_pb.js') as typeof import('@eventstore/db-client/generated/streams_grpc_pb.js');
const featuresGrpc = require('@eventstore/db-client/generated/serverfeatures_grpc_pb.js') as typeof import('@eventstore/db-client/generated/serverfeatures_grpc_pb.js');
const anyPb = require('google-protobuf/google/protobuf/any_pb.js') as typeof import('google-protobuf/google/protobuf/any_pb.js');

type ReadReq = import('@eventstore/db-client/generated/streams_pb.js').ReadReq;
type ReadResp = import('@eventstore/db-client/generated/streams_pb.js').ReadResp;
type AppendReq = import('@eventstore/db-client/generated/streams_pb.js').AppendReq;
type AppendResp = import('@eventstore/db-client/generated/streams_pb.js').AppendResp;
type BatchAppendReq = import('@eventstore/db-client/generated/streams_pb.js').BatchAppendReq;
type BatchAppendResp = import('@eventstore/db-client/generated/streams_pb.js').BatchAppendResp;
type DeleteReq = import('@eventstore/db-client/generated/streams_pb.js').DeleteReq;
type DeleteResp = import('@eventstore/db-client/generated/streams_pb.js').DeleteResp;
type TombstoneReq = import('@eventstore/db-client/generated/streams_pb.js').TombstoneReq;
type TombstoneResp = import('@eventstore/db-client/generated/streams_pb.js').TombstoneResp;
type ReadOptions = import('@eventstore/db-client/generated/streams_pb.js').ReadReq.Options;
type FilterOptions = import('@eventstore/db-client/generated/streams_pb.js').ReadReq.Options.FilterOptions;
type DeleteOptions = import('@eventstore/db-client/generated/streams_pb.js').DeleteReq.Options;
type TombstoneOptions = import('@eventstore/db-client/generated/streams_pb.js').TombstoneReq.Options;
type Empty = import('@eventstore/db-client/generated/shared_pb.js').Empty;
type SupportedMethods = import('@eventstore/db-client/generated/serverfeatures_pb.js').SupportedMethods;

/** The server's read page (Enumerator.DefaultReadBatchSize): also the default filter search window. */
const READ_BATCH = 32;
const SERVER_VERSION = '24.10.0';

/** A fault the stand-in answers with, the way a server or the network would. */
export type FaultKind =
  /** gRPC DEADLINE_EXCEEDED (the client gave up waiting). */
  | 'deadline'
  /** The node is a follower: NotLeader with the leader's address (this server's own, so the client comes back). */
  | 'not-leader'
  /** UNAVAILABLE: the server is not ready or is restarting. */
  | 'unavailable'
  /** The server's own commit timeout (an append that was not confirmed in time). */
  | 'timeout'
  /** The TCP connection drops (every call on it fails, as in a network cut). */
  | 'drop';

export interface FaultRule {
  on: 'append' | 'read' | 'subscribe' | 'tombstone' | 'delete';
  /** Only calls on this stream (`$all` for $all reads); any when not given. */
  stream?: string | RegExp;
  /** Matching calls let through before the fault strikes. */
  skip?: number;
  /** Matching calls it strikes (1 unless given). */
  times?: number;
  kind?: FaultKind;
  /** Appends: the write lands before the fault is answered (the client cannot tell it did). */
  afterWrite?: boolean;
  /** Reads and subscriptions: events sent before the fault strikes. */
  afterEvents?: number;
  /** Runs when the rule strikes, before the call is served (another writer appending to `stream`, say). */
  before?: (log: StandinLog, stream: string) => void;
}

interface ActiveRule extends FaultRule {
  seen: number;
  struck: number;
}

export interface StandinOptions {
  /** The server's MaxAppendSize (1 MiB, as EventStoreDB's default). */
  maxAppendSize?: number;
  /** Whether ServerFeatures advertises BatchAppend (a 24.x server does; the client then uses it). */
  batchAppend?: boolean;
}

interface ServiceError {
  code: status;
  details: string;
  metadata: Metadata;
}

/**
 * An EventStoreDB stand-in the real `@eventstore/db-client` talks to over gRPC on a loopback port:
 * the Streams service (reads of streams and of $all, filtered and unfiltered $all subscriptions,
 * Append, BatchAppend, Delete, Tombstone) and ServerFeatures, over {@link StandinLog}. It counts what
 * it scans and the calls it serves, and strikes injected faults. Not a database: everything is in memory.
 */
export class EventStoreStandin {
  readonly log = new StandinLog();
  private readonly rules: ActiveRule[] = [];
  private readonly maxAppendSize: number;
  private readonly batchAppend: boolean;
  private port = 0;

  private constructor(
    private readonly server: Server,
    options: StandinOptions,
  ) {
    this.maxAppendSize = options.maxAppendSize ?? 1024 * 1024;
    this.batchAppend = options.batchAppend ?? true;
  }

  static async start(options: StandinOptions = {}): Promise<EventStoreStandin> {
    const server = new Server({ 'grpc.max_receive_message_length': 32 * 1024 * 1024 });
    const standin = new EventStoreStandin(server, options);
    server.addService(streamsGrpc.StreamsService, {
      read: (call: ServerWritableStream<ReadReq, ReadResp>) => void standin.read(call),
      append: (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) => standin.append(call, callback),
      delete: (call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>) => standin.remove(call, callback),
      tombstone: (call: ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: sendUnaryData<TombstoneResp>) => standin.tombstone(call, callback),
      batchAppend: (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => standin.batchAppendCall(call),
    });
    server.addService(featuresGrpc.ServerFeaturesService, {
      getSupportedMethods: (_call: ServerUnaryCall<Empty, SupportedMethods>, callback: sendUnaryData<SupportedMethods>) => callback(null, standin.features()),
    });
    standin.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    return standin;
  }

  /** The connection string the client (and AppVault's EVENTSTORE_URL) takes. */
  get url(): string {
    return `esdb://127.0.0.1:${this.port}?tls=false`;
  }

  get stats() {
    return this.log.stats;
  }

  /** Adds a fault; it strikes the matching calls once `skip` of them have passed. */
  inject(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0, struck: 0 });
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  /** Drops every client connection at once, as a network cut does: calls in flight fail, clients reconnect. */
  dropConnections(): void {
    const sessions = (this.server as unknown as { sessions?: Map<Http2Session, unknown> }).sessions;
    if (!sessions) throw new Error('This @grpc/grpc-js keeps no session list; the stand-in cannot drop connections');
    for (const session of [...sessions.keys()]) session.destroy();
  }

  /**
   * Writes events straight into the log, bypassing gRPC (a store that already holds them, or
   * another writer): `any` expected revision; data as given when it is bytes (not JSON), else as
   * JSON; metadata as JSON.
   */
  seed(stream: string, events: readonly { type: string; data: unknown; metadata?: unknown; id?: string }[]): LogRecord {
    const outcome = this.log.append(
      stream,
      { kind: 'any' },
      events.map((e) => ({
        id: e.id ?? crypto.randomUUID(),
        type: e.type,
        isJson: !(e.data instanceof Uint8Array),
        data: e.data instanceof Uint8Array ? Uint8Array.from(e.data) : json(e.data),
        metadata: e.metadata === undefined ? new Uint8Array() : json(e.metadata),
      })),
    );
    if (outcome.kind !== 'written' && outcome.kind !== 'idempotent') throw new Error(`Seeding ${stream} failed: ${outcome.kind}`);
    return outcome.last;
  }

  async close(): Promise<void> {
    this.server.forceShutdown();
  }

  private features(): SupportedMethods {
    const methods = [
      ['event_store.client.streams.streams', 'read', ['position', 'events']],
      ['event_store.client.streams.streams', 'append', []],
      ['event_store.client.streams.streams', 'delete', []],
      ['event_store.client.streams.streams', 'tombstone', []],
      ...(this.batchAppend ? [['event_store.client.streams.streams', 'batchappend', ['deadline_duration']] as const] : []),
      ['event_store.client.server_features.serverfeatures', 'getsupportedmethods', []],
    ] as const;
    const result = new featuresPb.SupportedMethods();
    result.setEventStoreServerVersion(SERVER_VERSION);
    result.setMethodsList(
      methods.map(([service, method, features]) => {
        const supported = new featuresPb.SupportedMethod();
        supported.setServiceName(service);
        supported.setMethodName(method);
        supported.setFeaturesList([...features]);
        return supported;
      }),
    );
    return result;
  }

  /** The first rule that strikes this call, counting it as seen. */
  private strike(on: FaultRule['on'], stream: string): ActiveRule | undefined {
    for (const rule of this.rules) {
      if (rule.on !== on) continue;
      if (rule.stream !== undefined && !(typeof rule.stream === 'string' ? rule.stream === stream : rule.stream.test(stream))) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.skip ?? 0) || rule.struck >= (rule.times ?? 1)) continue;
      rule.struck += 1;
      rule.before?.(this.log, stream);
      return rule;
    }
    return undefined;
  }

  private faultError(kind: FaultKind): ServiceError {
    switch (kind) {
      case 'deadline':
        return serviceError(status.DEADLINE_EXCEEDED, 'Deadline Exceeded');
      case 'not-leader':
        return serviceError(status.NOT_FOUND, 'Leader info available', {
          exception: 'not-leader',
          'leader-endpoint-host': '127.0.0.1',
          'leader-endpoint-port': String(this.port),
        });
      case 'unavailable':
        return serviceError(status.UNAVAILABLE, 'Server Is Not Ready');
      case 'timeout':
        return serviceError(status.ABORTED, 'Operation timed out: Commit timeout');
      case 'drop':
        return serviceError(status.UNAVAILABLE, 'Connection dropped');
    }
  }

  /** Answers a call with the fault; a drop cuts every connection instead (the call fails on the client's side). */
  private failWith(kind: FaultKind, send: (error: ServiceError) => void): void {
    if (kind === 'drop') {
      this.dropConnections();
      return;
    }
    send(this.faultError(kind));
  }

  // ---------------------------------------------------------------- reads

  private async read(call: ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
    this.log.count('Streams.Read');
    const options = call.request.getOptions();
    try {
      if (!options) throw serviceError(status.INVALID_ARGUMENT, "'options' is a required argument");
      if (options.hasStream()) {
        if (options.hasSubscription()) throw serviceError(status.UNIMPLEMENTED, 'The stand-in serves no stream subscriptions');
        await this.readStream(call, options);
      } else if (options.hasAll()) {
        if (options.hasSubscription()) await this.subscribeAll(call, options);
        else await this.readAll(call, options);
      } else {
        throw serviceError(status.INVALID_ARGUMENT, 'Read needs a stream or $all');
      }
      if (!call.cancelled) call.end();
    } catch (error) {
      if (call.cancelled) return;
      call.emit('error', isServiceError(error) ? error : serviceError(status.UNKNOWN, error instanceof Error ? error.message : String(error)));
    }
  }

  private async readStream(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadOptions): Promise<void> {
    this.log.count('read:stream');
    const streamOptions = options.getStream()!;
    const name = Buffer.from(streamOptions.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
    const fault = this.strike('read', name);
    if (fault?.kind && fault.afterEvents === undefined) return this.failWith(fault.kind, (e) => call.emit('error', e));
    const visible = this.log.visibleEvents(name);
    if (visible === 'deleted') throw streamDeleted(name);
    if (visible === 'not-found') {
      const response = new streamsPb.ReadResp();
      const notFound = new streamsPb.ReadResp.StreamNotFound();
      notFound.setStreamIdentifier(identifier(name));
      response.setStreamNotFound(notFound);
      call.write(response);
      return;
    }
    const count = Number(options.getCount() || '0');
    const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
    const last = Number(visible.at(-1)!.revision);
    let from: number;
    if (streamOptions.hasStart()) from = 0;
    else if (streamOptions.hasEnd()) from = backwards ? last : last + 1;
    else from = Number(streamOptions.getRevision());
    const selected = backwards
      ? visible.filter((r) => Number(r.revision) <= from).reverse().slice(0, count)
      : visible.filter((r) => Number(r.revision) >= from).slice(0, count);
    let sent = 0;
    for (const record of selected) {
      if (call.cancelled) return;
      if (fault?.kind && sent >= (fault.afterEvents ?? 0)) return this.failWith(fault.kind, (e) => call.emit('error', e));
      this.log.stats.scanned += 1;
      await write(call, this.readEvent(record, options.getResolveLinks(), record.position));
      sent += 1;
    }
  }

  private async readAll(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadOptions): Promise<void> {
    this.log.count('read:all');
    const fault = this.strike('read', '$all');
    if (fault?.kind && fault.afterEvents === undefined) return this.failWith(fault.kind, (e) => call.emit('error', e));
    const all = options.getAll()!;
    const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
    const end = this.log.endPosition;
    let from: TfPos;
    if (all.hasStart()) from = { commit: 0, prepare: 0 };
    else if (all.hasEnd()) from = { commit: end, prepare: end };
    else from = { commit: Number(all.getPosition()!.getCommitPosition()), prepare: Number(all.getPosition()!.getPreparePosition()) };
    // A 24.10 read from inside a record fails in the storage reader (InvalidPosition), which a plain
    // read reports as an unknown error; a subscription reports it as InvalidArgument (below).
    if (!this.inLog(from)) throw serviceError(status.UNKNOWN, 'Unexpected ReadAllResult: InvalidPosition');
    const count = Number(options.getCount() || '0');
    const filter = options.hasFilter() ? toFilter(options.getFilter()!) : undefined;
    const records = this.log.records;
    let sent = 0;
    let i = backwards ? this.log.indexAtOrAfter({ commit: from.commit, prepare: from.commit }) - 1 : this.log.indexAtOrAfter(from);
    for (; backwards ? i >= 0 : i < records.length; i += backwards ? -1 : 1) {
      if (sent >= count || call.cancelled) return;
      const record = records[i]!;
      if (record.internal) continue;
      this.log.stats.scanned += 1;
      if (!inAll(record) || (filter && !filter(record))) continue;
      if (fault?.kind && sent >= (fault.afterEvents ?? 0)) return this.failWith(fault.kind, (e) => call.emit('error', e));
      await write(call, this.readEvent(record, options.getResolveLinks(), record.position));
      sent += 1;
      if (sent % 1000 === 0) await turn();
    }
  }

  private inLog(pos: TfPos): boolean {
    try {
      this.log.assertBoundary(pos);
      return true;
    } catch (error) {
      if (error instanceof InvalidPositionError) return false;
      throw error;
    }
  }

  /**
   * A catch-up subscription to $all as Enumerator.AllSubscription(Filtered) serves it: confirmation,
   * the events after the start in pages of 32 records (with a filter: a checkpoint whenever the
   * records considered reach 32 × the checkpoint interval multiplier, and one at the end of the
   * catch-up), "caught up", then live events (with a filter, a checkpoint every interval of records).
   */
  private async subscribeAll(call: ServerWritableStream<ReadReq, ReadResp>, options: ReadOptions): Promise<void> {
    this.log.count('subscribe:all');
    const fault = this.strike('subscribe', '$all');
    if (fault?.kind && fault.afterEvents === undefined) return this.failWith(fault.kind, (e) => call.emit('error', e));
    const all = options.getAll()!;
    let checkpoint: TfPos | undefined;
    if (all.hasEnd()) checkpoint = { commit: this.log.endPosition, prepare: this.log.endPosition };
    else if (all.hasPosition()) {
      checkpoint = { commit: Number(all.getPosition()!.getCommitPosition()), prepare: Number(all.getPosition()!.getPreparePosition()) };
      if (!this.inLog(checkpoint)) throw serviceError(status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');
    }
    const filterOptions = options.hasFilter() ? options.getFilter()! : undefined;
    const filter = filterOptions ? toFilter(filterOptions) : undefined;
    const window = filterOptions?.hasMax() ? filterOptions.getMax() : READ_BATCH;
    const interval = filterOptions ? Math.max(1, filterOptions.getCheckpointintervalmultiplier()) * window : Number.POSITIVE_INFINITY;
    const resolve = options.getResolveLinks();

    let wake: (() => void) | undefined;
    const stop = this.log.onAppended(() => wake?.());
    call.on('cancelled', () => wake?.());
    try {
      const confirmation = new streamsPb.ReadResp();
      const confirmed = new streamsPb.ReadResp.SubscriptionConfirmation();
      confirmed.setSubscriptionId(crypto.randomUUID());
      confirmation.setConfirmation(confirmed);
      await write(call, confirmation);

      const records = this.log.records;
      let sent = 0;
      const send = async (record: LogRecord) => {
        if (fault?.kind && sent >= (fault.afterEvents ?? 0)) throw new FaultStrike(fault.kind);
        await write(call, this.readEvent(record, resolve, record.position));
        sent += 1;
      };
      const sendCheckpoint = async (pos: TfPos | undefined) => {
        if (!filterOptions || !pos) return;
        const response = new streamsPb.ReadResp();
        const message = new streamsPb.ReadResp.Checkpoint();
        message.setCommitPosition(String(pos.commit));
        message.setPreparePosition(String(pos.prepare));
        response.setCheckpoint(message);
        await write(call, response);
      };
      let index = checkpoint ? this.log.indexAtOrAfter(checkpoint) : 0;
      // Catch-up, a page at a time; a start at (or past) the last record goes live at once.
      let pageStart: TfPos = checkpoint ?? { commit: 0, prepare: 0 };
      let counter = 0;
      const last = records.at(-1);
      const atHead = checkpoint !== undefined && (!last || compare(recordPos(last), checkpoint) <= 0);
      if (atHead) index = records.length;
      for (;;) {
        if (atHead) break;
        if (call.cancelled) return;
        let considered = 0;
        let matched = 0;
        let next = pageStart;
        while (considered < window && matched < READ_BATCH && index < records.length) {
          const record = records[index++]!;
          if (record.internal) continue;
          considered += 1;
          this.log.stats.scanned += 1;
          next = { commit: record.position + record.size, prepare: 0 };
          if (!inAll(record) || (filter && !filter(record))) continue;
          matched += 1;
          if (checkpoint && compare(recordPos(record), checkpoint) <= 0) continue;
          await send(record);
          checkpoint = recordPos(record);
        }
        const endOfLog = index >= records.length;
        if ((!checkpoint || compare(checkpoint, pageStart) < 0) && compare(pageStart, next) < 0) checkpoint = pageStart;
        counter += considered;
        if (endOfLog) {
          await sendCheckpoint(checkpoint);
          break;
        }
        if (counter >= interval) {
          counter %= interval;
          await sendCheckpoint(checkpoint);
        }
        pageStart = next;
        if (considered > 0 && index % 1000 < READ_BATCH) await turn();
      }
      const caughtUp = new streamsPb.ReadResp();
      caughtUp.setCaughtUp(new streamsPb.ReadResp.CaughtUp());
      await write(call, caughtUp);
      // Live: each new record as it is written; with a filter, a checkpoint every `interval` of them.
      let live = 0;
      for (;;) {
        while (index < records.length) {
          if (call.cancelled) return;
          const record = records[index++]!;
          if (record.internal) continue;
          this.log.stats.scanned += 1;
          if (inAll(record) && (!filter || filter(record)) && (!checkpoint || compare(recordPos(record), checkpoint) > 0)) {
            await send(record);
            checkpoint = recordPos(record);
          }
          if (filterOptions && ++live >= interval) {
            live = 0;
            await sendCheckpoint(recordPos(record));
          }
        }
        if (call.cancelled) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } catch (error) {
      if (error instanceof FaultStrike) return this.failWith(error.kind, (e) => call.emit('error', e));
      throw error;
    } finally {
      stop();
    }
  }

  private readEvent(record: LogRecord, resolveLinks: boolean, position: number): ReadResp {
    const response = new streamsPb.ReadResp();
    const readEvent = new streamsPb.ReadResp.ReadEvent();
    if (resolveLinks && record.type === '$>') {
      readEvent.setLink(recorded(record));
      const target = this.log.resolveLink(record);
      if (target) readEvent.setEvent(recorded(target));
    } else {
      readEvent.setEvent(recorded(record));
    }
    readEvent.setCommitPosition(String(position));
    response.setEvent(readEvent);
    return response;
  }

  // ---------------------------------------------------------------- writes

  private append(call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>): void {
    this.log.count('Streams.Append');
    let stream: string | undefined;
    let expected: Expected | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    let answered = false;
    const answer = (error: ServiceError | null, response?: AppendResp) => {
      if (answered) return;
      answered = true;
      callback(error, response);
    };
    call.on('data', (request: AppendReq) => {
      if (answered) return;
      if (request.hasOptions()) {
        const options = request.getOptions()!;
        stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
        expected = expectedOf(options, () => options.getRevision());
        return;
      }
      const message = request.getProposedMessage();
      if (!message) return;
      const event = proposed(message.getId(), message.getMetadataMap(), message.getData_asU8(), message.getCustomMetadata_asU8());
      size += eventSize(event);
      if (size > this.maxAppendSize) {
        answer(serviceError(status.INVALID_ARGUMENT, `Maximum Append Size of ${this.maxAppendSize} Exceeded.`, { exception: 'maximum-append-size-exceeded', 'maximum-append-size': String(this.maxAppendSize) }));
        return;
      }
      events.push(event);
    });
    call.on('end', () => {
      if (answered) return;
      if (!stream || !expected) return answer(serviceError(status.INVALID_ARGUMENT, 'Append needs its options first'));
      this.log.count('append');
      const fault = this.strike('append', stream);
      if (fault?.kind && !fault.afterWrite) return this.failWith(fault.kind, (e) => answer(e));
      const outcome = this.log.append(stream, expected, events);
      if (fault?.kind) return this.failWith(fault.kind, (e) => answer(e));
      const response = new streamsPb.AppendResp();
      switch (outcome.kind) {
        case 'stream-deleted':
          return answer(streamDeleted(stream));
        case 'wrong-expected-version': {
          const wrong = new streamsPb.AppendResp.WrongExpectedVersion();
          if (outcome.current === 'no_stream') wrong.setCurrentNoStream(new sharedPb.Empty());
          else wrong.setCurrentRevision(String(outcome.current));
          if (expected.kind === 'any') wrong.setExpectedAny(new sharedPb.Empty());
          else if (expected.kind === 'exists') wrong.setExpectedStreamExists(new sharedPb.Empty());
          else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new sharedPb.Empty());
          else wrong.setExpectedRevision(String(expected.revision));
          response.setWrongExpectedVersion(wrong);
          return answer(null, response);
        }
        default: {
          const success = new streamsPb.AppendResp.Success();
          success.setCurrentRevision(String(outcome.last.revision));
          const position = new streamsPb.AppendResp.Position();
          position.setCommitPosition(String(outcome.last.position));
          position.setPreparePosition(String(outcome.last.position));
          success.setPosition(position);
          response.setSuccess(success);
          return answer(null, response);
        }
      }
    });
  }

  /**
   * BatchAppend as Streams.BatchAppend serves it: appends multiplexed on one stream by correlation
   * id, each answered with success or a google.rpc.Status carrying the error's details. A NotLeader,
   * an unavailable node or a dropped connection ends the whole stream (every pending append fails).
   */
  private batchAppendCall(call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    this.log.count('Streams.BatchAppend');
    const pending = new Map<string, { stream: string; expected: Expected; events: ProposedEvent[]; size: number; rejected: boolean }>();
    let ended = false;
    const fail = (error: ServiceError) => {
      if (ended) return;
      ended = true;
      call.emit('error', error);
    };
    call.on('data', (request: BatchAppendReq) => {
      if (ended) return;
      const correlation = request.getCorrelationId()!;
      const id = correlation.getString();
      const options = request.getOptions();
      if (options) {
        const stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
        const expected = expectedOf(options, () => options.getStreamPosition());
        pending.set(id, { stream, expected, events: [], size: 0, rejected: false });
      }
      const write = pending.get(id);
      if (!write) return;
      const respond = (fill: (response: BatchAppendResp) => void) => {
        const response = new streamsPb.BatchAppendResp();
        response.setCorrelationId(correlation);
        response.setStreamIdentifier(identifier(write.stream));
        fill(response);
        call.write(response);
      };
      if (!write.rejected) {
        for (const message of request.getProposedMessagesList()) {
          const event = proposed(message.getId(), message.getMetadataMap(), message.getData_asU8(), message.getCustomMetadata_asU8());
          write.size += eventSize(event);
          write.events.push(event);
        }
        if (write.size > this.maxAppendSize) {
          write.rejected = true;
          const detail = new sharedPb.MaximumAppendSizeExceeded();
          detail.setMaxappendsize(this.maxAppendSize);
          respond((r) => r.setError(rpcStatus(codePb.Code.INVALID_ARGUMENT, 'MaximumAppendSizeExceeded', detail, 'event_store.client.MaximumAppendSizeExceeded')));
        }
      }
      if (!request.getIsFinal()) return;
      pending.delete(id);
      if (write.rejected) return;
      this.log.count('append');
      const fault = this.strike('append', write.stream);
      const answerFault = (kind: FaultKind) => {
        if (kind === 'deadline' || kind === 'timeout') {
          respond((r) => r.setError(rpcStatus(codePb.Code.DEADLINE_EXCEEDED, 'Timeout', new sharedPb.Timeout(), 'event_store.client.Timeout')));
        } else {
          this.failWith(kind, fail);
        }
      };
      if (fault?.kind && !fault.afterWrite) return answerFault(fault.kind);
      const outcome = this.log.append(write.stream, write.expected, write.events);
      if (fault?.kind) return answerFault(fault.kind);
      switch (outcome.kind) {
        case 'stream-deleted': {
          const detail = new sharedPb.StreamDeleted();
          detail.setStreamIdentifier(identifier(write.stream));
          return respond((r) => r.setError(rpcStatus(codePb.Code.NOT_FOUND, 'StreamDeleted', detail, 'event_store.client.StreamDeleted')));
        }
        case 'wrong-expected-version': {
          const detail = new sharedPb.WrongExpectedVersion();
          if (outcome.current === 'no_stream') detail.setCurrentNoStream(new sharedPb.Empty());
          else detail.setCurrentStreamRevision(String(outcome.current));
          const expected = write.expected;
          if (expected.kind === 'any') detail.setExpectedAny(new sharedPb.Empty());
          else if (expected.kind === 'exists') detail.setExpectedStreamExists(new sharedPb.Empty());
          else if (expected.kind === 'no_stream') detail.setExpectedNoStream(new sharedPb.Empty());
          else detail.setExpectedStreamPosition(String(expected.revision));
          return respond((r) => r.setError(rpcStatus(codePb.Code.ALREADY_EXISTS, 'WrongExpectedVersion', detail, 'event_store.client.WrongExpectedVersion')));
        }
        default:
          return respond((r) => {
            const success = new streamsPb.BatchAppendResp.Success();
            success.setCurrentRevision(String(outcome.last.revision));
            const position = new sharedPb.AllStreamPosition();
            position.setCommitPosition(String(outcome.last.position));
            position.setPreparePosition(String(outcome.last.position));
            success.setPosition(position);
            r.setSuccess(success);
          });
      }
    });
    call.on('end', () => {
      if (!ended) {
        ended = true;
        call.end();
      }
    });
    call.on('error', () => undefined);
  }

  private remove(call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>): void {
    this.deletion('delete', call.request.getOptions()!, (stream) => this.log.softDelete(stream), callback, () => ({
      response: new streamsPb.DeleteResp(),
      position: new streamsPb.DeleteResp.Position(),
    }));
  }

  private tombstone(call: ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: sendUnaryData<TombstoneResp>): void {
    this.deletion('tombstone', call.request.getOptions()!, (stream) => this.log.tombstone(stream), callback, () => ({
      response: new streamsPb.TombstoneResp(),
      position: new streamsPb.TombstoneResp.Position(),
    }));
  }

  /** A soft delete or a tombstone: the expected revision checked, then the record written and its position answered. */
  private deletion<R extends { setPosition(position: P): void }, P extends { setCommitPosition(value: string): void; setPreparePosition(value: string): void }>(
    on: 'delete' | 'tombstone',
    options: DeleteOptions | TombstoneOptions,
    perform: (stream: string) => LogRecord | StreamDeletedError,
    callback: sendUnaryData<R>,
    make: () => { response: R; position: P },
  ): void {
    this.log.count(on === 'delete' ? 'Streams.Delete' : 'Streams.Tombstone');
    const stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
    const fault = this.strike(on, stream);
    if (fault?.kind) return this.failWith(fault.kind, (e) => callback(e));
    const refused = this.checkDeleteExpectation(stream, options);
    if (refused) return callback(refused);
    const result = perform(stream);
    if (result instanceof StreamDeletedError) return callback(streamDeleted(stream));
    const { response, position } = make();
    position.setCommitPosition(String(result.position));
    position.setPreparePosition(String(result.position));
    response.setPosition(position);
    callback(null, response);
  }

  /** Deletes carry an expected revision too; the server refuses a wrong one with WrongExpectedVersion. */
  private checkDeleteExpectation(stream: string, options: DeleteOptions | TombstoneOptions): ServiceError | undefined {
    if (options.hasAny()) return undefined;
    if (this.log.isTombstoned(stream)) return streamDeleted(stream);
    const current = this.log.lastRevision(stream);
    const ok = options.hasNoStream() ? current < 0 : options.hasStreamExists() ? current >= 0 : BigInt(options.getRevision()) === BigInt(current);
    if (ok) return undefined;
    return serviceError(status.FAILED_PRECONDITION, 'WrongExpectedVersion', {
      exception: 'wrong-expected-version',
      'stream-name': stream,
      'expected-version': options.hasRevision() ? options.getRevision() : '-1',
      ...(current >= 0 ? { 'actual-version': String(current) } : {}),
    });
  }
}

class FaultStrike extends Error {
  constructor(readonly kind: FaultKind) {
    super(`fault ${kind}`);
  }
}

/** An append's expected revision, as its options say it. */
function expectedOf(options: { hasAny(): boolean; hasNoStream(): boolean; hasStreamExists(): boolean }, revision: () => string): Expected {
  if (options.hasAny()) return { kind: 'any' };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'exists' };
  return { kind: 'revision', revision: BigInt(revision()) };
}

/** The server's size of an event in an append (Event.SizeOnDisk): data, metadata and the type twice. */
function eventSize(event: ProposedEvent): number {
  return event.data.length + event.metadata.length + 2 * event.type.length;
}

function proposed(id: { getString(): string } | undefined, meta: { get(key: string): string | undefined }, data: Uint8Array, metadata: Uint8Array): ProposedEvent {
  const type = meta.get('type');
  const contentType = meta.get('content-type');
  if (!type || !contentType) throw serviceError(status.INVALID_ARGUMENT, `Required Metadata Property '${!type ? 'type' : 'content-type'}' is missing`);
  return { id: id?.getString() ?? crypto.randomUUID(), type, isJson: contentType === 'application/json', data: Uint8Array.from(data), metadata: Uint8Array.from(metadata) };
}

function identifier(name: string) {
  const id = new sharedPb.StreamIdentifier();
  id.setStreamName(Uint8Array.from(Buffer.from(name, 'utf8')));
  return id;
}

function recorded(record: LogRecord) {
  const event = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
  const id = new sharedPb.UUID();
  id.setString(record.id);
  event.setId(id);
  event.setStreamIdentifier(identifier(record.stream));
  event.setStreamRevision(String(record.revision));
  event.setCommitPosition(String(record.position));
  event.setPreparePosition(String(record.position));
  event.getMetadataMap().set('type', record.type);
  event.getMetadataMap().set('created', String(record.created));
  event.getMetadataMap().set('content-type', record.isJson ? 'application/json' : 'application/octet-stream');
  event.setData(record.data);
  event.setCustomMetadata(record.metadata);
  return event;
}

/** What $all shows at all (the server's DefaultAllFilter): everything but its epoch records. */
function inAll(record: LogRecord): boolean {
  return record.stream !== '$epoch-information';
}

/** A filter as the server applies it to $all: on the stream name or the event type, by regex or prefixes (a regex matches anywhere in the name). */
function toFilter(options: FilterOptions): (record: LogRecord) => boolean {
  const expression = options.hasStreamIdentifier() ? options.getStreamIdentifier()! : options.getEventType()!;
  const field = options.hasStreamIdentifier() ? (r: LogRecord) => r.stream : (r: LogRecord) => r.type;
  const regex = expression.getRegex();
  if (regex) {
    const pattern = new RegExp(regex);
    return (record) => pattern.test(field(record));
  }
  const prefixes = expression.getPrefixList();
  return (record) => prefixes.some((prefix) => field(record).startsWith(prefix));
}

function rpcStatus(code: number, message: string, detail: { serializeBinary(): Uint8Array }, typeName: string) {
  const result = new statusPb.Status();
  result.setCode(code);
  result.setMessage(message);
  const any = new anyPb.Any();
  any.pack(detail.serializeBinary(), typeName);
  result.setDetails(any);
  return result;
}

function serviceError(code: status, details: string, entries: Record<string, string> = {}): ServiceError {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return { code, details, metadata };
}

function isServiceError(value: unknown): value is ServiceError {
  return typeof value === 'object' && value !== null && 'code' in value && 'metadata' in value && (value as { metadata: unknown }).metadata instanceof Metadata;
}

function streamDeleted(stream: string): ServiceError {
  return serviceError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, { exception: 'stream-deleted', 'stream-name': stream });
}

/** Writes a response, waiting for the client to take what is buffered (or to go away) first. */
async function write(call: ServerWritableStream<ReadReq, ReadResp>, response: ReadResp): Promise<void> {
  if (call.write(response) || call.cancelled) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
