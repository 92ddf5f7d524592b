import { Global, Module } from '@nestjs/common';
import { StartupService } from './startup.service.js';

/** The start-up gate (StartupService): requests wait for it, /health reports it. */
@Global()
@Module({
  providers: [StartupService],
  exports: [StartupService],
})
export class StartupModule {}
