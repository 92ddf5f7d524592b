import { Logger } from '@nestjs/common';
import {
  BACKWARDS,
  binaryEvent,
  END,
  type EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  type Position,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { nameBasedEventId } from './event-ids.js';
import { streams } from './event-store.port.js';
import {
  BOOKKEEPING_PREFIX,
  comparePositions,
  drain,
  isBookkeeping,
  NOT_BOOKKEEPING_STREAM_REGEX,
  positionOf,
  type RecordedEventLike,
  type ResolvedEventLike,
  whyForeign,
} from './eventstoredb-mapping.js';

/**
 * The per-app index that makes whole-app reads on EventStoreDB cost the app, not the log.
 *
 * For every app, a stream `appvault-app-{appId}` of link events (`$>`, data `{revision}@{stream}`,
 * the linked event's $all position in the link's metadata), one per event of the app, in $all
 * order: link revision r is the app's event number r + 1. One process writes it (the index writer,
 * below) from a filtered $all subscription, with its own checkpoint in `appvault-index-checkpoint`
 * saved after the links it covers. Readers read the index with resolveLinkTos (a link to an event
 * of a deleted stream resolves to nothing) and the part the writer has not reached yet from $all,
 * starting at a position the server returned (the last link's event, or the writer's checkpoint).
 * The checkpoint also names the newest event (not bookkeeping) the writer has seen, so the head of
 * the store is found without reading back over the links written after the last event.
 *
 * Writes are idempotent and safe with two writers: each link has a name-based id and is appended
 * with the index's expected revision; a conflict means another writer got there first, so the
 * writer reads the index's last link again and skips what it already holds. A purged app's index is
 * tombstoned with its streams, and the writer skips apps whose index is deleted.
 */

export const indexStreamOf = (appId: string) => `${BOOKKEEPING_PREFIX}app-${appId}`;
export const INDEX_CHECKPOINT_STREAM = `${BOOKKEEPING_PREFIX}index-checkpoint`;
const LINK_TYPE = '$>';
const CHECKPOINT_TYPE = 'AppIndexCheckpoint';
/** Links per append: small records, so a page of them stays far below MaxAppendSize. */
const LINKS_PER_APPEND = 500;
/** The checkpoint is saved at most this often while links are written (and when the writer is idle). */
const SAVE_EVERY_MS = 250;
/** Events waiting to be linked before the subscription is paused. */
const QUEUE_HIGH = 5000;
/** Apps whose index position the writer remembers. */
const STATE_CACHE = 10_000;

export interface Link {
  /** The link's revision in the index: the app's event number - 1. */
  revision: number;
  /** The linked event's $all position. */
  position: number;
  stream: string;
}

/** How far the writer has gone: every app event at or before `through` is linked; `newest` is the newest event (not bookkeeping) at or before it, 0 for none. */
export interface IndexProgress {
  through: Position;
  newest: number;
}

export interface ResolvedLink {
  link: Link;
  /** The linked event; missing when its stream was deleted (or truncated) since. */
  event?: ResolvedEventLike;
}

export class AppIndexReader {
  constructor(private readonly client: EventStoreDBClient) {}

  /**
   * How far the writer has linked every app event of $all (its saved checkpoint, a position the
   * server returned); undefined when it has never saved one.
   */
  async progress(): Promise<IndexProgress | undefined> {
    try {
      const read = this.client.readStream(INDEX_CHECKPOINT_STREAM, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      for await (const resolved of drain(read)) {
        const data = resolved.event?.data as { commit?: unknown; prepare?: unknown; newest?: unknown } | undefined;
        if (typeof data?.commit === 'string' && typeof data.prepare === 'string' && typeof data.newest === 'number') {
          return { through: { commit: BigInt(data.commit), prepare: BigInt(data.prepare) }, newest: data.newest };
        }
      }
      return undefined;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
  }

  /** The app's last link; undefined when it has none yet, 'deleted' when the app was purged. */
  async lastLink(appId: string): Promise<Link | undefined | 'deleted'> {
    try {
      const read = this.client.readStream(indexStreamOf(appId), { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      for await (const resolved of drain(read)) if (resolved.event) return toLink(resolved.event);
      return undefined;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      if (error instanceof StreamDeletedError) return 'deleted';
      throw error;
    }
  }

  /** Links from `fromRevision` on, a page at a time; `resolve` also reads the linked events (by the server, in the same read). */
  async *links(appId: string, fromRevision: number, options: { resolve: boolean; batch: number }): AsyncGenerator<ResolvedLink> {
    let next = fromRevision;
    for (;;) {
      let received = 0;
      try {
        const read = this.client.readStream(indexStreamOf(appId), { direction: FORWARDS, fromRevision: BigInt(next), maxCount: options.batch, resolveLinkTos: options.resolve });
        for await (const resolved of drain(read)) {
          received += 1;
          const record = options.resolve ? resolved.link : resolved.event;
          if (!record) continue;
          const link = toLink(record);
          next = link.revision + 1;
          yield options.resolve && resolved.event ? { link, event: resolved } : { link };
        }
      } catch (error) {
        if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return;
        throw error;
      }
      if (received < options.batch) return;
    }
  }

  /** The first revision whose event lies after `position`: a binary search, one link read a step. */
  async firstRevisionAfter(appId: string, position: number, last: Link): Promise<number> {
    if (position >= last.position) return last.revision + 1;
    let low = 0;
    let high = last.revision;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const link = await this.linkAt(appId, middle);
      if (!link || link.position <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private async linkAt(appId: string, revision: number): Promise<Link | undefined> {
    for await (const { link } of this.links(appId, revision, { resolve: false, batch: 1 })) return link;
    return undefined;
  }
}

/**
 * Writes the index: follows every app stream in $all from its checkpoint and appends, per app, the
 * links of its new events. Run by one process at a time (EventStore.maintain, under a lease).
 */
export class AppIndexWriter {
  private readonly logger = new Logger('AppIndexWriter');
  private readonly states = new Map<string, { revision: number; position: number } | 'deleted'>();
  private checkpointStreamReady = false;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly reader: AppIndexReader,
  ) {}

  /**
   * Links what $all holds past the checkpoint, then new events as they come, until `stop` aborts;
   * throws on failure. It follows every stream but bookkeeping ones (so its checkpoint can name
   * the newest event) and links the app streams' events.
   */
  async run(stop: AbortSignal): Promise<void> {
    const saved0 = await this.reader.progress();
    const from = saved0?.through;
    let newest = saved0?.newest ?? 0;
    const queue: ResolvedEventLike[] = [];
    // A checkpoint covers the events the server sent before it; some may still wait in the
    // subscription's buffer when it arrives, so it applies once that many events are linked.
    const checkpoints: { position: Position; afterEvents: number }[] = [];
    let received = 0;
    let linked = 0;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const signal = () => {
      wake?.();
      wake = undefined;
    };
    const subscription = this.client.subscribeToAll({
      fromPosition: from ?? START,
      filter: streamNameFilter({
        regex: NOT_BOOKKEEPING_STREAM_REGEX,
        checkpointInterval: 1,
        checkpointReached: (_subscription, position) => {
          checkpoints.push({ position, afterEvents: received + subscription.readableLength });
          signal();
        },
      }),
    });
    subscription.on('data', (event: ResolvedEventLike) => {
      received += 1;
      queue.push(event);
      if (queue.length >= QUEUE_HIGH) subscription.pause();
      signal();
    });
    subscription.on('error', (error: unknown) => {
      failure ??= error;
      signal();
    });
    subscription.on('end', () => {
      failure ??= new Error('The subscription of the app index writer ended');
      signal();
    });
    stop.addEventListener('abort', signal);
    let through = from;
    let saved = from;
    let lastSave = 0;
    const advance = (position: Position) => {
      if (!through || comparePositions(position, through) > 0) through = position;
    };
    const save = async () => {
      if (!through || (saved && comparePositions(through, saved) <= 0)) return;
      await this.saveCheckpoint({ through, newest });
      saved = through;
      lastSave = Date.now();
    };
    try {
      for (;;) {
        if (stop.aborted) return;
        if (failure) throw failure;
        while (checkpoints.length > 0 && checkpoints[0]!.afterEvents <= linked) advance(checkpoints.shift()!.position);
        if (queue.length === 0) {
          const due = through !== undefined && (!saved || comparePositions(through, saved) > 0);
          const timer = due ? setTimeout(signal, Math.max(0, SAVE_EVERY_MS - (Date.now() - lastSave))) : undefined;
          const before = checkpoints.length;
          await new Promise<void>((resolve) => (wake = resolve));
          clearTimeout(timer);
          // Idle (no event, no new checkpoint): save what is linked.
          if (due && queue.length === 0 && checkpoints.length === before && !stop.aborted && !failure) await save();
          continue;
        }
        const events = queue.splice(0, QUEUE_HIGH);
        if (subscription.isPaused() && queue.length < QUEUE_HIGH / 2) subscription.resume();
        await this.link(events);
        for (const event of events) if (!isBookkeeping(event)) newest = Math.max(newest, positionOf(event));
        linked += events.length;
        const last = events.at(-1)!;
        advance(last.event?.position ?? { commit: BigInt(positionOf(last)), prepare: BigInt(positionOf(last)) });
        while (checkpoints.length > 0 && checkpoints[0]!.afterEvents <= linked) advance(checkpoints.shift()!.position);
        if (Date.now() - lastSave >= SAVE_EVERY_MS) await save();
      }
    } finally {
      stop.removeEventListener('abort', signal);
      await subscription.unsubscribe().catch(() => undefined);
      subscription.destroy();
      if (!failure) await save().catch((error: unknown) => this.logger.warn(`Could not save the app index checkpoint: ${String(error)}`));
    }
  }

  /** Appends the links of these events (in $all order), app by app. */
  private async link(events: readonly ResolvedEventLike[]): Promise<void> {
    const byApp = new Map<string, ResolvedEventLike[]>();
    for (const resolved of events) {
      if (isBookkeeping(resolved) || !resolved.event || whyForeign(resolved.event)) continue;
      const appId = streams.appOf(resolved.event.streamId);
      if (!appId) continue;
      const list = byApp.get(appId);
      if (list) list.push(resolved);
      else byApp.set(appId, [resolved]);
    }
    for (const [appId, list] of byApp) await this.linkApp(appId, list);
  }

  private async linkApp(appId: string, events: readonly ResolvedEventLike[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      let state = await this.stateOf(appId);
      if (state === 'deleted') return;
      const known = state.position;
      const fresh = events.filter((e) => positionOf(e) > known);
      try {
        for (let i = 0; i < fresh.length; i += LINKS_PER_APPEND) {
          const chunk = fresh.slice(i, i + LINKS_PER_APPEND);
          await this.client.appendToStream(indexStreamOf(appId), chunk.map(linkEvent), { expectedRevision: state.revision < 0 ? NO_STREAM : BigInt(state.revision) });
          state = { revision: state.revision + chunk.length, position: positionOf(chunk.at(-1)!) };
          this.remember(appId, state);
        }
        return;
      } catch (error) {
        if (error instanceof StreamDeletedError) {
          this.remember(appId, 'deleted');
          return;
        }
        // Another writer linked some of these first: read where the index stands and go on from there.
        if (error instanceof WrongExpectedVersionError) {
          this.states.delete(appId);
          continue;
        }
        this.states.delete(appId);
        throw error;
      }
    }
    throw new Error(`The index of app ${appId} kept changing while it was being written; another writer is running`);
  }

  private async stateOf(appId: string): Promise<{ revision: number; position: number } | 'deleted'> {
    const known = this.states.get(appId);
    if (known) return known;
    const last = await this.reader.lastLink(appId);
    const state = last === 'deleted' ? 'deleted' : { revision: last?.revision ?? -1, position: last?.position ?? 0 };
    this.remember(appId, state);
    return state;
  }

  private remember(appId: string, state: { revision: number; position: number } | 'deleted'): void {
    this.states.delete(appId);
    this.states.set(appId, state);
    if (this.states.size > STATE_CACHE) this.states.delete(this.states.keys().next().value!);
  }

  private async saveCheckpoint({ through, newest }: IndexProgress): Promise<void> {
    if (!this.checkpointStreamReady) {
      // Only the newest checkpoint matters: older ones go at the next scavenge.
      await this.client.setStreamMetadata(INDEX_CHECKPOINT_STREAM, { maxCount: 10 });
      this.checkpointStreamReady = true;
    }
    await this.client.appendToStream(INDEX_CHECKPOINT_STREAM, jsonEvent(checkpointOf({ through, newest })));
  }
}

/**
 * A link to an event, with the event's position in its metadata; its id is named after the event,
 * so sending it again is harmless.
 */
export function linkTo(target: { stream: string; revision: bigint | number; position: number }) {
  return {
    id: nameBasedEventId('app-index-link', target.stream, String(target.revision)),
    type: LINK_TYPE,
    data: Buffer.from(`${target.revision}@${target.stream}`, 'utf8'),
    metadata: { position: target.position },
  };
}

/** The writer's checkpoint as it is stored. */
export function checkpointOf({ through, newest }: IndexProgress) {
  return { type: CHECKPOINT_TYPE, data: { commit: String(through.commit), prepare: String(through.prepare), newest } };
}

function linkEvent(resolved: ResolvedEventLike) {
  const event = resolved.event!;
  return binaryEvent(linkTo({ stream: event.streamId, revision: event.revision, position: positionOf(resolved) }));
}

function toLink(record: RecordedEventLike): Link {
  const text = Buffer.from(record.data as Uint8Array).toString('utf8');
  const at = text.indexOf('@');
  const position = (record.metadata as { position?: unknown } | undefined)?.position;
  if (at < 1 || typeof position !== 'number') throw new Error(`${record.streamId}@${record.revision} is not a link of AppVault's app index`);
  return { revision: Number(record.revision), position, stream: text.slice(at + 1) };
}
