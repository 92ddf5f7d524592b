import { Injectable } from '@nestjs/common';

/** Where a backup can be made to fail: reading events, opening an entry's source, the handlers' last step, the manifest. */
export const BACKUP_STAGES = ['events', 'entry', 'complete', 'manifest'] as const;
export type BackupStage = (typeof BACKUP_STAGES)[number];

/**
 * Lets tests make a backup fail at a chosen stage, to prove that every failure fails only that
 * job, cleanly. Nothing in production sets it; a plain provider a test reaches through the app.
 */
@Injectable()
export class BackupFaults {
  failAt?: BackupStage;

  check(stage: BackupStage): void {
    if (this.failAt === stage) throw new Error(`Injected failure at backup stage "${stage}"`);
  }
}
