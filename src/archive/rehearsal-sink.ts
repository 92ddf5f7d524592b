import { hashStream } from '../platform/file-hash.js';
import type { Readable } from 'node:stream';
import type { StoredEvent, StreamWrite } from '../infrastructure/event-store/event-store.port.js';
import type { RestoreSink } from './archive-restore.js';
import { InvalidArchiveError } from './archive-reader.js';
import { ScratchStreams } from './scratch-streams.js';

/** Finds a user of the installation a restore would go to; offline there is none. */
export type UserLookup = (email: string) => Promise<{ id: string; email: string } | undefined>;

/**
 * Where a rehearsal of a restore writes, keeping nothing: events go to scratch streams (so each is
 * checked against its stream's state as a restore checks it), files are only hashed (so each is
 * still compared with the SHA-256 its event records, and the manifest's, by the reader), and users
 * are looked up in the installation (if any) and counted as mapped or to be created.
 */
export class RehearsalSink implements RestoreSink {
  /** The archived users by email: those the lookup knew (a restore maps them) and the rest (it creates them). */
  readonly users: { mapped: string[]; created: string[] } = { mapped: [], created: [] };
  private readonly scratch: ScratchStreams;

  /** `scratchDir`: where the scratch streams' file goes (ScratchStreams); the system's temp folder without it. */
  constructor(
    private readonly lookup: UserLookup = async () => undefined,
    scratchDir?: string,
  ) {
    this.scratch = new ScratchStreams(scratchDir);
  }

  async appendBatch(writes: StreamWrite[]): Promise<void> {
    for (const write of writes) {
      const first = (write.expectedVersion === 'any' ? -1 : write.expectedVersion) + 1;
      write.events.forEach((event, i) => this.scratch.append(write.stream, first + i, event));
    }
  }

  readStream(stream: string): AsyncIterable<StoredEvent> {
    return this.scratch.readStream(stream);
  }

  /** What participants add after the events (the Owner grant) is not rehearsed. */
  async append(): Promise<void> {}

  /** Hashes what a restore would store; a file that cannot be read makes the archive invalid, as it would fail the restore. */
  async putFile(_key: string, source: Readable): Promise<{ size: number; sha256: string }> {
    try {
      return await hashStream(source);
    } catch (error) {
      if (error instanceof InvalidArchiveError) throw error;
      throw new InvalidArchiveError((error as Error).message);
    }
  }

  async findUser(email: string): Promise<{ id: string; email: string } | undefined> {
    const user = await this.lookup(email);
    if (user) this.users.mapped.push(user.email);
    return user;
  }

  async createUser(user: { email: string }): Promise<void> {
    this.users.created.push(user.email);
  }

  close(): void {
    this.scratch.close();
  }
}
