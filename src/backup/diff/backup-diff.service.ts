import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { ArchiveKeys } from '../../archive/age-keys.js';
import { foldArchive, type DiffSource } from '../../archive/archive-diff.js';
import { EncryptedArchiveError } from '../../archive/archive-decryption.js';
import { InvalidArchiveError } from '../../archive/archive-reader.js';
import type { DiffResult, DiffSide, StateDiff } from '../../archive/state-diff.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { DIFF_PAGE_DEFAULT } from '../../contract/api-values.js';
import { changesByKind } from '../../contract/diff-groups.js';
import type { BackupDiff, DiffComputing } from '../../contract/diffs.schemas.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { conflict, gone, invalid } from '../../platform/domain-errors.js';
import { BackupsService } from '../create/backups.service.js';
import { archiveOnDisk } from '../restore/archive-source.js';
import { AppStateDiffs } from '../shared/app-state-diffs.js';
import { RestoresService } from '../restore/restores.service.js';
import { BackupArchives } from '../shared/archive-locations.js';
import { type BackupJob, isEncrypted, isPartial } from '../shared/backup-job.js';
import { describeSelection } from '../shared/backup-selection.js';
import { InstallationService } from '../shared/installation.service.js';
import { KEPT_DIFF_IDLE_MS, KEPT_DIFFS, type KeptDiff, KeptDiffs } from './kept-diffs.js';

export const LIVE = 'live';
/** What a 202 tells a client to wait before it asks again. */
export const DIFF_RETRY_AFTER_SECONDS = 5;

/** A page of a diff as a request asks for it: `cursor`/`limit`, or `skip`/`top` as the app's other lists page. */
export interface DiffRequest {
  against: string;
  cursor?: string;
  limit?: number;
  skip?: number;
  top?: number;
}

/** Where the page starts and how long it is; either spelling, but not both with different values. */
function pageOf(request: DiffRequest): { after: number; limit: number } {
  const cursor = request.cursor === undefined ? undefined : Number(request.cursor);
  if (cursor !== undefined && request.skip !== undefined && cursor !== request.skip) throw invalid(`cursor and skip: give one of them (they mean the same), not ${cursor} and ${request.skip}`);
  if (request.limit !== undefined && request.top !== undefined && request.limit !== request.top) throw invalid(`limit and top: give one of them (they mean the same), not ${request.limit} and ${request.top}`);
  return { after: cursor ?? request.skip ?? 0, limit: request.limit ?? request.top ?? DIFF_PAGE_DEFAULT };
}

/** What one side of a diff was taken from, as the answer names it. */
type SideView = BackupDiff['from'];

/**
 * A backup against another backup of the app or against the app as it is now. Each side is folded
 * into a temporary SQLite file (AppStateDiffs), compared there, and the file is removed before the
 * answer goes; nothing of an app is held in memory. A backup's archive is read with every check a
 * restore makes; an encrypted one is opened with the key the request gave (held only for this
 * request) or this installation's own. The changes between two plain backups are kept for the
 * pages that follow (KeptDiffs); a diff against `live`, or of an encrypted backup, is computed
 * for each request (the app moves on; a kept diff would show an encrypted backup's values to a
 * request without its key).
 */
@Injectable()
export class BackupDiffService {
  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly catalog: EventCatalog,
    private readonly states: AppStateDiffs,
    private readonly backups: BackupsService,
    private readonly archives: BackupArchives,
    private readonly installation: InstallationService,
    private readonly restores: RestoresService,
    private readonly kept: KeptDiffs,
  ) {}

  /** `GET|POST …/backups/{id}/diff`: one page of what differs from backup `backupId` to `against` (a backup id or `live`). The key is disposed of once it has answered. */
  async diff(app: { id: string; name: string }, backupId: string, request: DiffRequest & { snapshot?: string; keys: ArchiveKeys | null }): Promise<BackupDiff | DiffComputing> {
    try {
      const { after, limit } = pageOf(request);
      const fromBackup = await this.wholeBackup(backupId, app.id);
      const toBackup = request.against === LIVE ? null : await this.wholeBackup(request.against, app.id);
      if (toBackup && request.snapshot !== undefined) throw invalid('snapshot: only a diff against live has one; leave it out for a diff of two backups');
      for (const backup of [fromBackup, toBackup]) if (backup) await this.restores.requireOpener(backup, request.keys);
      const page = (sides: Pick<BackupDiff, 'from' | 'to'>, result: Pick<DiffResult, 'total' | 'report'>, snapshot: string | null): BackupDiff => {
        if (after > result.total) throw invalid(`cursor: this diff has ${result.total} changes; start again without a cursor (the app may have changed since the page before)`);
        const report = result.report(after, limit);
        const { schemas, contents, assets, contributors } = changesByKind(report);
        if (!schemas || !contents || !assets || !contributors) throw new Error('The event catalog lacks a kind the diff contract names');
        return { ...sides, ...report, schemas, contents, assets, contributors, snapshot };
      };
      const compare = async (diff: StateDiff, keys: ArchiveKeys | null): Promise<Pick<BackupDiff, 'from' | 'to'>> => {
        const from = await this.foldBackup(diff, 'from', fromBackup, keys);
        const to = toBackup ? await this.foldBackup(diff, 'to', toBackup, keys) : await this.states.foldLive(diff, 'to', app);
        await diff.compare();
        return { from, to };
      };
      if (isEncrypted(fromBackup) || (toBackup && isEncrypted(toBackup))) {
        // Within this request: the key is held for it only, and a kept diff would show the values to a request without it.
        if (request.snapshot !== undefined) throw invalid('snapshot: a diff of an encrypted backup is computed for each request and has none; leave it out');
        return await this.states.with(async (diff) => page(await compare(diff, request.keys), diff, null));
      }
      // Kept (KeptDiffs): two backups by their ids; the live app by the snapshot its first answer named.
      const snapshot = toBackup ? null : (request.snapshot ?? randomUUID());
      const key = `${app.id}/${fromBackup.id}/${toBackup ? toBackup.id : `${LIVE}/${snapshot}`}`;
      if (request.snapshot !== undefined && !this.kept.has(key)) {
        throw gone(
          `snapshot ${request.snapshot}: this diff against the live app is no longer kept (the last ${KEPT_DIFFS} diffs are, for ${KEPT_DIFF_IDLE_MS / 60_000} minutes after their last request, and not across restarts); ask again without a snapshot`,
        );
      }
      const keep = () => this.states.with(async (diff): Promise<KeptDiff> => ({ ...(await compare(diff, null)), result: await diff.keep() }));
      const answer = await this.kept.use(key, keep, ({ from, to, result }) => page({ from, to }, result, snapshot), { waitMs: this.config.diffWaitSeconds * 1000 });
      return 'computing' in answer ? { status: 'Computing', since: answer.since.toISOString(), retryAfterSeconds: DIFF_RETRY_AFTER_SECONDS, snapshot } : answer;
    } finally {
      request.keys?.dispose();
    }
  }

  private async wholeBackup(id: string, appId: string): Promise<BackupJob> {
    const backup = await this.backups.get(id, appId);
    if (backup.status !== 'Completed') throw conflict(`Backup ${backup.id} is ${backup.status}; a diff reads Completed backups`);
    if (isPartial(backup)) throw invalid(`Backup ${backup.id} is partial (${describeSelection(backup.include ?? null)}); a diff compares backups of the whole app`);
    return backup;
  }

  private async foldBackup(diff: StateDiff, side: DiffSide, backup: BackupJob, keys: ArchiveKeys | null): Promise<SideView> {
    const copy = join(this.states.tempDir, `diff-${randomUUID()}.zip`);
    const openers = { given: keys, installationIdentity: () => this.installation.identity() };
    let fetched: { file: string; owned: boolean } | undefined;
    try {
      fetched = await archiveOnDisk({ kind: 'backup', backup }, copy, { blobs: this.blobs, config: this.config, archives: this.archives, openers });
      const source: DiffSource = await foldArchive(diff, side, fetched.file, { catalog: this.catalog, maxExpandedBytes: this.config.maxRestoreExpandedBytes });
      return { backupId: backup.id, appId: source.app.id, appName: source.app.name, created: source.created, events: source.events };
    } catch (error) {
      // The archive's own words: a wrong key, a damaged archive; the request was fine.
      if (error instanceof EncryptedArchiveError) throw invalid(`Backup ${backup.id}: ${error.message}`);
      if (error instanceof InvalidArchiveError) throw conflict(`Backup ${backup.id} cannot be read: ${error.message}`);
      throw error;
    } finally {
      if (fetched?.owned) await rm(fetched.file, { force: true });
      await rm(copy, { force: true });
    }
  }
}
