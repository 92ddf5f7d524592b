import { Global, Module } from '@nestjs/common';
import { JobEventStreams } from './job-event-streams.service.js';
import { JobFaults } from './job-faults.js';
import { JobProcessor } from './job-processor.service.js';
import { JobSecrets } from './job-secrets.js';

/** The job system every kind of background job runs on (see JobProcessor); runners register themselves. */
@Global()
@Module({
  providers: [JobProcessor, JobFaults, JobEventStreams, JobSecrets],
  exports: [JobProcessor, JobFaults, JobEventStreams, JobSecrets],
})
export class JobsModule {}
