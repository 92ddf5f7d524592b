import { Global, Module } from '@nestjs/common';
import { EventWriter } from './events/event-writer.service.js';
import { Projector } from './projection/projector.service.js';

@Global()
@Module({
  providers: [Projector, EventWriter],
  exports: [Projector, EventWriter],
})
export class PlatformModule {}
