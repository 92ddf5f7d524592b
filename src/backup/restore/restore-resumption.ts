import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '../../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex, ReservationLostError } from '../../infrastructure/name-index/name-index.port.js';
import type { RestoreCheckpoint } from '../../archive/archive-restore.js';
import type { RestoreJob, RestoreJournal } from './restore-job.js';

/**
 * How long an Interrupted restore keeps its name reserved with nobody renewing it: long enough for
 * an administrator to come back to it; after that the name frees itself, and a resume reserves it
 * again if nobody took it meanwhile.
 */
export const INTERRUPTED_RESERVATION_MS = 7 * 24 * 3600 * 1000;

/** A resume that cannot go on (the archive changed, the journal and the store disagree): the restore stays Interrupted, with this as its error. */
export class ResumeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResumeRefusedError';
  }
}

/**
 * What resuming a restore takes besides the restore loop itself: keeping its name while it is
 * Interrupted, and finding from its journal and the event store where it stands.
 */
@Injectable()
export class RestoreResumption {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  /**
   * Keeps the restore's name reserved for INTERRUPTED_RESERVATION_MS: renewed, or, when it expired
   * while no process ran (a crash), reserved again for the job. Returns the reservation's token
   * (null when the restore had not reserved a name yet); throws NameUnavailableError when someone
   * else took the name meanwhile.
   */
  async keepName(job: Pick<RestoreJob, 'id' | 'name' | 'nameToken'>): Promise<string | null> {
    if (!job.name || !job.nameToken) return job.nameToken;
    const claim = claims.appName(job.name);
    try {
      await this.names.renew(claim, job.nameToken, INTERRUPTED_RESERVATION_MS);
      return job.nameToken;
    } catch (error) {
      if (!(error instanceof ReservationLostError)) throw error;
    }
    return this.names.reserve(claim, INTERRUPTED_RESERVATION_MS, job.id);
  }

  /**
   * Where an interrupted restore stands: the journal's `written` checkpoint, or its `pending` one
   * when the store holds that batch too (the process stopped between the append and the journal's
   * note of it). Counting the new app's events after `written.position` tells which: at most one
   * batch is read. A batch stored in part (EventStoreDB writes stream by stream) is refused: its
   * checks' state cannot be known.
   */
  async resumePoint(appId: string, journal: RestoreJournal): Promise<{ from: RestoreCheckpoint; position: number }> {
    const { written, pending } = journal;
    if (journal.eventsDone) return { from: written, position: written.position };
    let count = 0;
    let position = written.position;
    for await (const event of this.store.readApp(appId, { after: written.position })) {
      count += 1;
      position = event.position;
    }
    if (count === 0) return { from: written, position };
    if (pending && written.events + count === pending.events) return { from: pending, position };
    throw new ResumeRefusedError(
      `The event store holds ${written.events + count} events of the new app, but the journal says ${written.events}${pending ? ` or ${pending.events}` : ''}; the interruption cut a batch in part, so this restore cannot continue. Cancel it and start a new restore`,
    );
  }
}
