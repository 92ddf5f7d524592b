import { Inject, Injectable, Logger } from '@nestjs/common';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { type LockMode, LockedError, type RepositoryStore } from '../../infrastructure/repository-store/repository-store.port.js';
import { conflict, invalid } from '../../platform/domain-errors.js';
import { findStoredCopy, removeCopyObjects } from '../../repositories/shared/copy-files.js';
import { LOCAL_REPOSITORY, RepositoryRegistry, UnknownRepositoryError } from '../../repositories/shared/repository-registry.port.js';
import { archiveKey, type BackupCopy, type BackupJob, copiesOf } from './backup-job.js';

export interface ObjectLockRule {
  mode: LockMode;
  days: number;
}

/**
 * The lock a copy is written with: the repository's own and the policy's (only where the
 * repository can lock), the later date and the stricter mode winning, so a policy never weakens
 * what a repository requires. Undefined when neither asks for one.
 */
export function lockFor(repository: ObjectLockRule | null, policy: ObjectLockRule | null | undefined, canLock: boolean, now: Date): { lockUntil: Date; lockMode: LockMode } | undefined {
  const rules = [repository, canLock ? policy : null].filter((rule): rule is ObjectLockRule => Boolean(rule));
  if (rules.length === 0) return undefined;
  const days = Math.max(...rules.map((rule) => rule.days));
  const lockMode: LockMode = rules.some((rule) => rule.mode === 'COMPLIANCE') ? 'COMPLIANCE' : 'GOVERNANCE';
  return { lockUntil: new Date(now.getTime() + days * 86_400_000), lockMode };
}

/** What a delete left in place: copies in append-only repositories. */
export interface KeptCopy {
  repository: string;
  key: string;
  reason: string;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * A backup's copies in repositories, where the use cases meet them: the names a request gives
 * (checked against the registry), deleting every copy of a backup (all or nothing where a lock
 * says no), and which backups hold copies in a repository (one that does cannot be removed).
 * Writing copies is the backup run's step (CopyWriter); checking them again is `verify`.
 */
@Injectable()
export class BackupCopies {
  private readonly logger = new Logger(BackupCopies.name);

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly registry: RepositoryRegistry,
  ) {}

  /** The names a backup or a policy gives, in order; 400 naming every one no repository has. */
  async checkTargets(names: readonly string[] | undefined): Promise<string[]> {
    const targets = names && names.length > 0 ? [...names] : [LOCAL_REPOSITORY];
    const known = new Set([LOCAL_REPOSITORY, ...(await this.registry.definitions()).map((definition) => definition.name)]);
    const unknown = targets.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw invalid(`repositories: there is no repository named ${unknown.map((name) => `"${name}"`).join(', ')}; GET /api/repositories lists them (admins)`);
    }
    return targets;
  }

  /** Whether any of these repositories can lock copies (S3 with Object Lock), for a policy that asks for locks. */
  async canLock(names: readonly string[]): Promise<boolean> {
    for (const name of names) {
      if (name === LOCAL_REPOSITORY) continue;
      const { store, definition } = await this.registry.open(name);
      if (definition.objectLock || store.capabilities.objectLock) return true;
    }
    return false;
  }

  /**
   * Deletes every copy of the backup, checking first that none is locked (409 naming the
   * repository and until when; nothing is deleted then). Copies in append-only repositories stay
   * there and are returned. A copy already gone is fine, so a delete that failed part-way can be
   * asked again; `onDeleted` records each copy as it goes, so the record never names a copy that
   * is gone.
   */
  async deleteAll(job: BackupJob, onDeleted: (left: BackupCopy[]) => Promise<void>): Promise<KeptCopy[]> {
    const copies = copiesOf(job);
    const remote: { copy: BackupCopy; store: RepositoryStore; appendOnly: boolean }[] = [];
    for (const copy of copies) {
      if (copy.repository === LOCAL_REPOSITORY) continue;
      const open = await this.registry.open(copy.repository).catch((error: unknown) => {
        if (error instanceof UnknownRepositoryError) return undefined;
        throw error;
      });
      // A repository removed since: AppVault cannot reach the copy any more; the record may go.
      if (!open) continue;
      remote.push({ copy, store: open.store, appendOnly: open.definition.appendOnly || open.store.capabilities.appendOnly });
    }
    for (const { copy, store, appendOnly } of remote) {
      if (appendOnly || copy.written === null) continue;
      const locked = await lockOf(store, copy.key);
      if (locked) {
        throw conflict(
          `Backup ${job.id} cannot be deleted: its copy in repository "${copy.repository}" (${copy.key}) is ${locked}. Nothing was deleted; delete it after then.`,
        );
      }
    }
    const kept: KeptCopy[] = [];
    let left = copies;
    for (const { copy, store, appendOnly } of remote) {
      if (appendOnly) {
        if (copy.written !== null) kept.push({ repository: copy.repository, key: copy.key, reason: `repository "${copy.repository}" is append-only: AppVault never deletes there; the operator's own tool prunes it` });
      } else if (copy.written === null) {
        // A copy that failed holds nothing there, at most what its last try left: removed if the repository lets us, else left to it.
        await removeCopyObjects(store, copy.key, job.appId, job.id).catch((error: unknown) => this.logger.warn(`Backup ${job.id}: could not remove what the failed copy in "${copy.repository}" may have left: ${messageOf(error)}`));
      } else {
        try {
          // The manifest first (a listing never shows a copy whose archive is gone), shared files no kept copy needs last.
          const swept = await removeCopyObjects(store, copy.key, job.appId, job.id);
          if (swept.locked > 0) this.logger.log(`Backup ${job.id}: ${swept.locked} shared files no copy in "${copy.repository}" needs stay until their lock ends; a later removal sweeps them`);
          if (swept.problem) this.logger.warn(`Backup ${job.id}: the shared files no copy in "${copy.repository}" needs could not be swept (${swept.problem}); a later removal tries again`);
        } catch (error) {
          const why = error instanceof LockedError ? `it became locked (${error.message})` : messageOf(error);
          throw conflict(`Backup ${job.id}: its copy in repository "${copy.repository}" could not be deleted: ${why}. The copies deleted so far are gone from the backup; ask again to delete the rest.`);
        }
      }
      left = left.filter((other) => other !== copy);
      await onDeleted(left);
    }
    await this.blobs.delete(archiveKey(job));
    if (kept.length > 0) this.logger.log(`Backup ${job.id} deleted; copies kept in append-only repositories: ${kept.map((copy) => `${copy.repository} ${copy.key}`).join(', ')}`);
    return kept;
  }

  /** Until when the newest lock on any of the backup's copies holds (read from the stores), or undefined when none is locked now. */
  async lockedCopy(job: BackupJob): Promise<{ repository: string; until: string } | undefined> {
    for (const copy of copiesOf(job)) {
      if (copy.repository === LOCAL_REPOSITORY) continue;
      const open = await this.registry.open(copy.repository).catch(() => undefined);
      if (!open || open.definition.appendOnly) continue;
      const locked = await lockOf(open.store, copy.key);
      if (locked) return { repository: copy.repository, until: locked };
    }
    return undefined;
  }
}

/** "locked until … (MODE)" when the store keeps the object locked now, else undefined; a store that cannot say is treated as locked. */
async function lockOf(store: RepositoryStore, key: string): Promise<string | undefined> {
  if (!store.capabilities.objectLock) return undefined;
  let info;
  try {
    // A copy with shared files is locked through its frame (its files at least as long).
    info = (await findStoredCopy(store, key))?.info;
  } catch (error) {
    return `not checkable now (${messageOf(error)})`;
  }
  if (!info) return undefined;
  if (info.legalHold) return 'under a legal hold';
  if (info.lockedUntil && info.lockedUntil.getTime() > Date.now()) return `locked until ${info.lockedUntil.toISOString()} (${info.lockMode ?? 'GOVERNANCE'})`;
  return undefined;
}
