import { Controller, Get, Inject } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '../../infrastructure/event-store/event-store.port.js';
import { READ_STORE, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { Public } from '../auth/access.decorator.js';
import { Projector } from '../projection/projector.service.js';

@Controller('health')
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(READ_STORE) private readonly reads: ReadStore,
    private readonly projector: Projector,
  ) {}

  /** Open, and cheap: the store kinds plus how far projections trail the event store. */
  @Get()
  @Public()
  async health() {
    const head = await this.events.headPosition();
    return { status: 'ok', eventStore: this.events.kind, readStore: this.reads.kind, projectionLag: Math.max(0, head - this.projector.checkpoint) };
  }
}
