import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ARCHIVE_REHEARSAL, type ArchiveRehearsal } from '../backup/restore/archive-rehearsal.port.js';
import { UsersModule } from '../users/users.module.js';
import { UsersService } from '../users/users.service.js';
import { verifyArchive } from './archive-verifier.js';

/**
 * The archive checks the `appvault archive` commands run offline, offered to the server for a
 * restore's dry run: the same rehearsal, with this installation's users to say who would be
 * mapped and who created.
 */
@Global()
@Module({
  imports: [UsersModule],
  providers: [
    {
      provide: ARCHIVE_REHEARSAL,
      inject: [UsersService, APP_CONFIG],
      useFactory: (users: UsersService, config: AppConfig): ArchiveRehearsal => ({
        rehearse: (file, options) => verifyArchive(file, { ...options, maxExpandedBytes: config.maxRestoreExpandedBytes, lookupUser: (email) => users.findByEmail(email) }),
      }),
    },
  ],
  exports: [ARCHIVE_REHEARSAL],
})
export class ArchiveChecksModule {}
