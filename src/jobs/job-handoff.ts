import { Lease } from '../infrastructure/name-index/lease.js';
import { type Claim, type NameIndex, ReservationLostError } from '../infrastructure/name-index/name-index.port.js';

/** How often the process that runs the projections looks for jobs handed to it. */
export const PICKUP_POLL_MS = 500;
/** How long an accepted job waits for the projecting process before the accepting one fails it, in lease periods. */
const PICKUP_WAIT_LEASES = 5;

/**
 * Restores and rollbacks replay an app through the projection engine, so they run in the process
 * that runs the projections; any process on the same stores (a replica behind a load balancer)
 * accepts them all the same. A process that does not project checks the request, takes the job's
 * slot (a lease, held by the job's id) and stores the job Scheduled with the slot's token; the
 * projecting process picks it up (PICKUP_POLL_MS) by taking the slot over with that token
 * (NameIndex.handOver: exactly one process can), and runs it. The slot is held throughout, so "one
 * at a time" and the sweeps that clean up after dead processes see the job alive at every moment;
 * if the accepting process dies before the pickup, its slot expires and the job is cleaned up as
 * any abandoned one.
 */
export class JobHandOff {
  private readonly stopping = new AbortController();

  constructor(
    private readonly names: NameIndex,
    private readonly ttlMs: number,
  ) {}

  /**
   * This process is shutting down: waiting stops, and the slots of jobs not yet picked up are left
   * as they are, neither renewed nor freed. The projecting process can still pick them up until they
   * expire; after that the sweep fails them, like every job whose process died.
   */
  stop(): void {
    this.stopping.abort();
  }

  /** How long `waitForPickup` waits, for messages. */
  get waitMs(): number {
    return this.ttlMs * PICKUP_WAIT_LEASES;
  }

  /**
   * In the accepting process: holds the slot (renewed by its lease, and whatever `keep` renews)
   * until the projecting process has picked the job up (`pickedUp`, asked every PICKUP_POLL_MS, or
   * the slot found taken over), or this process stops; then resolves undefined. If no process has
   * picked it up after `waitMs`, takes the slot back so that none can any more, and returns it: the
   * caller fails the job and releases it.
   */
  async waitForPickup(jobId: string, slot: Lease, pickedUp: () => Promise<boolean>, keep?: () => Promise<unknown>): Promise<Lease | undefined> {
    const renewal = keep ? setInterval(() => void keep().catch(() => undefined), Math.max(100, Math.floor(this.ttlMs / 3))) : undefined;
    const deadline = Date.now() + this.waitMs;
    try {
      while (Date.now() < deadline) {
        if (this.stopping.signal.aborted || slot.lost.aborted || (await pickedUp().catch(() => false))) {
          slot.forget();
          return undefined;
        }
        await new Promise((resolve) => setTimeout(resolve, PICKUP_POLL_MS));
      }
      const back = await this.takeOver(slot.claim, slot.token, jobId);
      slot.forget();
      return back;
    } finally {
      clearInterval(renewal);
    }
  }

  /** Takes a job's slot over by its stored token; undefined when another process took it first, or it expired. */
  async takeOver(claim: Claim, token: string, holder: string): Promise<Lease | undefined> {
    try {
      return await Lease.takeOver(this.names, claim, token, { ttlMs: this.ttlMs, holder });
    } catch (error) {
      if (error instanceof ReservationLostError) return undefined;
      throw error;
    }
  }
}
