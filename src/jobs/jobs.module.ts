import { Global, Module } from '@nestjs/common';
import { JobEventStreams } from './job-event-streams.service.js';
import { JobFaults } from './job-faults.js';
import { JobProcessor } from './job-processor.service.js';

/** The job system every kind of background job runs on (see JobProcessor); runners register themselves. */
@Global()
@Module({
  providers: [JobProcessor, JobFaults, JobEventStreams],
  exports: [JobProcessor, JobFaults, JobEventStreams],
})
export class JobsModule {}
