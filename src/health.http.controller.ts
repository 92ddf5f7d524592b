import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { EVENT_STORE, type EventStore } from './infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadStore } from './infrastructure/read-store/read-store.port.js';
import { Public } from './auth/access.decorator.js';
import { Projector } from './eventsourcing/projector.service.js';
import { StartupService } from './platform/startup/startup.service.js';

/** A store that does not answer within this time counts as unreachable for readiness. */
const STORE_CHECK_MS = 2000;
/** Lag is counted up to this many events (EventStoreDB reads them to count); more shows as this. */
const LAG_LIMIT = 10_000;
/** Probes ask often; the lag is counted at most this often. */
const LAG_CACHE_MS = 1000;

/**
 * Open and cheap. `/health` keeps the contract's shape (`status` is `starting` while projections
 * catch up); `/health/live` and `/health/ready` are for probes (Kubernetes: liveness and readiness).
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_STORE) private readonly reads: ReadStore,
    private readonly projector: Projector,
    private readonly startup: StartupService,
  ) {}

  @Get()
  @Public()
  async health(@Res({ passthrough: true }) res: Response) {
    const state = this.startup.state;
    if (state === 'failed') res.status(HttpStatus.SERVICE_UNAVAILABLE);
    return { status: state === 'ready' ? 'ok' : state, eventStore: this.events.kind, readStore: this.reads.kind, projectionLag: await this.lag() };
  }

  /** 200 while the process runs and its event loop turns; restart it only when this fails. */
  @Get('live')
  @Public()
  live() {
    return { status: 'live' };
  }

  /** 200 once start-up is done and both stores answer; 503 (with the reason) otherwise. */
  @Get('ready')
  @Public()
  async ready(@Res({ passthrough: true }) res: Response) {
    const state = this.startup.state;
    if (state !== 'ready') {
      res.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: state, reason: state === 'failed' ? `Start-up failed: ${this.startup.error?.message ?? ''}` : 'Projections are catching up', projectionLag: await this.lag().catch(() => null) };
    }
    try {
      await withTimeout(Promise.all([this.events.headPosition(), this.reads.getCheckpoint('projector')]), STORE_CHECK_MS);
    } catch (error) {
      res.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: 'unavailable', reason: `A store does not answer: ${error instanceof Error ? error.message : String(error)}` };
    }
    return { status: 'ready' };
  }

  private lagCache?: { at: number; checkpoint: number; value: Promise<number> };

  /** Events the projections have yet to apply (at most LAG_LIMIT), whatever the store's positions measure. */
  private lag(): Promise<number> {
    const now = Date.now();
    const checkpoint = this.projector.checkpoint;
    if (!this.lagCache || this.lagCache.checkpoint !== checkpoint || now - this.lagCache.at >= LAG_CACHE_MS) {
      const value = this.events.countAfter(checkpoint, LAG_LIMIT);
      value.catch(() => (this.lagCache = undefined));
      this.lagCache = { at: now, checkpoint, value };
    }
    return this.lagCache.value;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
