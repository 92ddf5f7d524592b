import { Logger } from '@nestjs/common';
import { type Claim, describeClaim, type NameIndex, NameUnavailableError, ReservationLostError } from './name-index.port.js';

export interface LeaseOptions {
  ttlMs: number;
  /** Recorded with the reservation: who holds it (a job id, a process), for recovery and messages. */
  holder?: string;
  /**
   * Whether the current holder is done and only about to let go (a job that has recorded its
   * outcome frees its slot right after): then acquiring waits a moment for it instead of failing,
   * so a client that saw a job end can start the next one at once.
   */
  finishing?: (holder: string) => Promise<boolean>;
}

/** How long acquiring waits, at most, for a finishing holder to let go. */
const FINISHING_WAIT_MS = 5000;

/**
 * A reservation held while work runs and renewed in the background (every third of its time to
 * live), so it outlives any pause shorter than two renewals and frees itself soon after its
 * process dies. If a renewal finds it lost (expired, taken over), `lost` aborts: the work should
 * stop, because another process may now do the same thing.
 */
export class Lease {
  private static readonly logger = new Logger('Lease');
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private constructor(
    private readonly index: NameIndex,
    readonly claim: Claim,
    readonly token: string,
    private readonly ttlMs: number,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  /** Reserves the claim or throws NameUnavailableError (someone else holds it). */
  static async acquire(index: NameIndex, claim: Claim, options: LeaseOptions): Promise<Lease> {
    const deadline = Date.now() + FINISHING_WAIT_MS;
    for (;;) {
      try {
        const token = await index.reserve(claim, options.ttlMs, options.holder);
        return new Lease(index, claim, token, options.ttlMs);
      } catch (error) {
        const holder = error instanceof NameUnavailableError ? error.holder : undefined;
        if (!holder || !options.finishing || Date.now() > deadline || !(await options.finishing(holder))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  /**
   * Takes over a live reservation that another process made (see NameIndex.handOver) and renews it
   * from here on; throws ReservationLostError when it is gone or another process took it first.
   */
  static async takeOver(index: NameIndex, claim: Claim, token: string, options: LeaseOptions): Promise<Lease> {
    const next = await index.handOver(claim, token, options.ttlMs, options.holder);
    return new Lease(index, claim, next, options.ttlMs);
  }

  /** Aborts when the lease is lost; its reason says so. */
  get lost(): AbortSignal {
    return this.controller.signal;
  }

  /** Turns the reservation into a permanent claim of `owner` (uniqueness claims). */
  async commit(owner: string): Promise<void> {
    clearInterval(this.timer);
    await this.index.commit(this.claim, this.token, owner);
    this.released = true;
  }

  /** Stops renewing without freeing: the reservation belongs to another process now (NameIndex.handOver). */
  forget(): void {
    clearInterval(this.timer);
    this.released = true;
  }

  /** Frees the claim; safe to call twice, and after the lease was lost. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    if (this.released) return;
    this.released = true;
    await this.index.release(this.claim, this.token);
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost.aborted) return;
    try {
      await this.index.renew(this.claim, this.token, this.ttlMs);
    } catch (error) {
      if (this.released) return;
      const message = error instanceof Error ? error.message : String(error);
      // A store that is briefly unreachable is retried at the next tick; a lease that is gone is not.
      if (error instanceof ReservationLostError) {
        clearInterval(this.timer);
        Lease.logger.warn(`Lost ${describeClaim(this.claim)}: ${message}`);
        this.controller.abort(new Error(`Lost ${describeClaim(this.claim)}; another process may have taken it over`));
      } else {
        Lease.logger.warn(`Could not renew ${describeClaim(this.claim)}: ${message}; retrying`);
      }
    }
  }
}
