import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { conflict } from '../../platform/domain-errors.js';
import { findStoredCopy, missingSharedFiles, openStoredCopy } from '../../repositories/shared/copy-files.js';
import { copyManifestKey } from '../../repositories/shared/copy-layout.js';
import { LOCAL_REPOSITORY, RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { type BackupCopy, type BackupJob, copiesOf } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * `verify`: checks every copy of a backup again, where it lies. Without `readData` the stores'
 * own records: the object is there, its size, the SHA-256 stored with it (S3) and its lock (the
 * manifest beside a copy too); a folder records no hash, so only `readData` proves its bytes.
 * With `readData` each copy is read whole and hashed. A copy found whole gets `verified` now and
 * its error cleared; one found wrong keeps its last `verified` and gets the error.
 */
@Injectable()
export class BackupVerifier {
  private readonly logger = new Logger(BackupVerifier.name);

  constructor(
    private readonly backups: BackupsService,
    private readonly registry: RepositoryRegistry,
  ) {}

  async verify(id: string, appId: string | undefined, readData: boolean): Promise<BackupJob> {
    const job = await this.backups.get(id, appId);
    if (job.status !== 'Completed') throw conflict(`Backup ${id} is ${job.status}; its copies can be verified once it is Completed`);
    const copies: BackupCopy[] = [];
    for (const copy of copiesOf(job)) copies.push(copy.written === null ? copy : await this.check(copy, readData));
    const bad = copies.filter((copy) => copy.written !== null && copy.error !== null);
    if (bad.length > 0) this.logger.warn(`Backup ${id}: ${bad.map((copy) => `in "${copy.repository}": ${copy.error}`).join('; ')}`);
    // Written over the record as it now is, so nothing a delete or another verify did meanwhile comes back.
    const current = await this.backups.get(id, appId);
    const updated = { ...current, copies };
    await this.backups.jobs.put(updated);
    return updated;
  }

  private async check(copy: BackupCopy, readData: boolean): Promise<BackupCopy> {
    const found = (problem: string): BackupCopy => ({ ...copy, error: `The copy ${problem}` });
    try {
      const { store } = await this.registry.open(copy.repository);
      const stored = await findStoredCopy(store, copy.key);
      if (!stored) return found(`is gone: ${copy.key} is not in the repository any more`);
      const { info } = stored;
      if (stored.sizeBytes !== copy.sizeBytes) return found(`has ${stored.sizeBytes} bytes, the backup recorded ${copy.sizeBytes}: it was changed or damaged`);
      if (stored.sha256 && copy.sha256 && stored.sha256 !== copy.sha256) return found(`is stored with SHA-256 ${stored.sha256}, the backup recorded ${copy.sha256}`);
      if (copy.repository !== LOCAL_REPOSITORY && !(await store.head(copyManifestKey(copy.key)))) {
        return found(`has no manifest beside it (${copyManifestKey(copy.key)}): other installations cannot list it`);
      }
      if (stored.shared) {
        // Without readData, the stores' records: the frame's size, and every shared file there with its size.
        if (info.size !== stored.shared.frame.sizeBytes) return found(`has a frame of ${info.size} bytes, its manifest says ${stored.shared.frame.sizeBytes}: it was changed or damaged`);
        const missing = await missingSharedFiles(store, stored.shared.backup.appId, stored.shared.files);
        if (missing) return found(`needs ${missing}`);
      }
      if (readData) {
        const hash = createHash('sha256');
        for await (const chunk of await openStoredCopy(store, copy.key, stored)) hash.update(chunk as Buffer);
        const sha256 = hash.digest('hex');
        if (sha256 !== copy.sha256) return found(`reads back with SHA-256 ${sha256}, the backup recorded ${copy.sha256}: its bytes were changed or damaged`);
      }
      return { ...copy, verified: new Date().toISOString(), lockedUntil: info.lockedUntil?.toISOString() ?? copy.lockedUntil, error: null };
    } catch (error) {
      // The repository down, removed, refusing: the copy's state is unknown, which the person must hear.
      return found(`could not be checked: ${messageOf(error)}`);
    }
  }
}
