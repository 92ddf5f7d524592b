import type { Readable } from 'node:stream';
import { hashStream } from '../../platform/file-hash.js';
import type { UserAccounts } from '../../archive/archive-participant.port.js';
import type { RestoreSink } from '../../archive/archive-restore.js';
import type { BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import type { EventStore, StoredEvent, StreamWrite } from '../../infrastructure/event-store/event-store.port.js';
import type { RestoreProjection } from '../../eventsourcing/app-replays.service.js';
import type { DomainEvent } from '../../eventsourcing/decider.js';
import type { EventWriter } from '../../eventsourcing/event-writer.service.js';

/**
 * Where a restore writes: the event store (each batch projected right after it is appended, from
 * what was just appended, never read back), the blob store, and the installation's users. What
 * the participants add once every event is in goes through the event writer, as a command would.
 */
export class InstallationSink implements RestoreSink {
  private target?: { appId: string; projection: RestoreProjection };
  /** The store's position of the last batch appended (a restore's journal notes it). */
  lastPosition = 0;

  constructor(
    private readonly store: EventStore,
    private readonly blobs: BlobStore,
    private readonly writer: EventWriter,
    private readonly users: UserAccounts,
    /** Who restores: the actor of the events the participants add and of the users they create. */
    private readonly actor: string,
    /** A resumed restore: its first run may have stored some of the files still to come (see putFile). */
    private readonly resumed = false,
  ) {}

  /** The new app and the restore's projection of it, opened once the events are about to come. */
  open(appId: string, projection: RestoreProjection): void {
    this.target = { appId, projection };
  }

  async appendBatch(writes: StreamWrite[]): Promise<void> {
    const { projection } = this.opened();
    const { position } = await this.store.appendMany(writes);
    this.lastPosition = position;
    await projection.project(asStored(writes, position));
  }

  readStream(stream: string): AsyncIterable<StoredEvent> {
    return this.store.readStream(stream);
  }

  async append(stream: string, events: DomainEvent[], expectedVersion: number): Promise<void> {
    await this.writer.append(stream, events, expectedVersion, { actor: this.actor, appId: this.opened().appId });
  }

  /**
   * A resumed restore keeps a file its first run stored already, if it hashes to `sha256` (the
   * first run stores a batch's files before appending it, so the files of the batch it was on may
   * be in): read to check it, never written twice.
   */
  async putFile(key: string, source: Readable, sha256?: string): Promise<{ size: number; sha256: string }> {
    if (this.resumed && sha256 !== undefined && (await this.blobs.exists(key))) {
      const stored = await hashStream(await this.blobs.get(key));
      if (stored.sha256 === sha256) {
        source.destroy();
        return stored;
      }
    }
    return this.blobs.put(key, source);
  }

  findUser(email: string): Promise<{ id: string; email: string } | undefined> {
    return this.users.findByEmail(email);
  }

  async createUser(user: { id: string; email: string; displayName: string; keyHash?: string }): Promise<void> {
    await this.users.createForRestore(user.id, user.email, user.displayName, this.actor, user.keyHash);
  }

  private opened(): { appId: string; projection: RestoreProjection } {
    if (!this.target) throw new Error('open() the sink before the events');
    return this.target;
  }
}

/**
 * The appended events as the store now holds them. Positions are the batch's last one for every
 * event: projections never read positions, and the restore's projection keeps no checkpoint.
 */
function asStored(writes: readonly StreamWrite[], position: number): StoredEvent[] {
  return writes.flatMap((write) => {
    const first = (write.expectedVersion === 'any' ? -1 : write.expectedVersion) + 1;
    return write.events.map((event, i) => ({ ...event, stream: write.stream, streamVersion: first + i, position }));
  });
}
