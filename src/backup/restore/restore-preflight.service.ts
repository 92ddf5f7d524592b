import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { validateName } from '../../platform/text/identifier.rules.js';
import { BackupArchives } from '../shared/archive-locations.js';
import type { RestorePreflight } from '../../contract/restores.schemas.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { BLOB_STORE, type BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { conflict, DomainError, invalid } from '../../platform/domain-errors.js';
import { ArchiveParticipants, USER_ACCOUNTS, type UserAccounts } from '../../archive/archive-participant.port.js';
import type { ChainLink } from '../../archive/archive-chain.js';
import { InvalidArchiveError } from '../../archive/archive-reader.js';
import { EncryptedArchiveError } from '../../archive/archive-decryption.js';
import { type RehearsalReport, rehearseRestore } from '../../archive/archive-verifier.js';
import { EventCatalog } from '../../eventsourcing/event-catalog.service.js';
import { isActive } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';
import { describeUrl } from './restore-job.js';
import type { RestoreRequest } from './restores.service.js';
import { archiveOnDisk, type ArchiveSource, requireRestoreUrl, tempDirOf } from './archive-source.js';
import { fetchChain } from './chain-source.js';
import { DownloadError, UnsafeUrlError } from './url-fetcher.js';
import { RepositoryRegistry } from '../../repositories/shared/repository-registry.port.js';
import { describeRepositorySource, locateRepositoryArchive, RepositoryReadError } from './repository-source.js';
import { InstallationService } from '../shared/installation.service.js';
import { RestoresService } from './restores.service.js';
import { AppStateDiffs } from '../shared/app-state-diffs.js';

/**
 * A restore's dry run (`POST /api/restore { …, dryRun: true }`): fetches the archive as a restore
 * would, runs every check a restore makes on it (the restore's own loop writing to a rehearsal
 * sink, as `appvault archive verify` does, with this installation's catalog, participants and
 * users), and says whether the name is free, writing nothing: no job,
 * no reservation, no app, no user, no file. A temporary copy of the archive is removed at once.
 */
@Injectable()
export class RestorePreflightService {
  private readonly tempDir: string;

  constructor(
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(USER_ACCOUNTS) private readonly users: UserAccounts,
    private readonly catalog: EventCatalog,
    private readonly participants: ArchiveParticipants,
    private readonly backups: BackupsService,
    private readonly repositories: RepositoryRegistry,
    private readonly archives: BackupArchives,
    private readonly installation: InstallationService,
    private readonly restores: RestoresService,
    private readonly diffs: AppStateDiffs,
  ) {
    this.tempDir = tempDirOf(config);
  }

  /** The request's key (if any) is overwritten once the dry run has answered. */
  async check(request: RestoreRequest): Promise<RestorePreflight> {
    try {
      return await this.rehearse(request);
    } finally {
      request.keys?.dispose();
    }
  }

  private async rehearse(request: RestoreRequest): Promise<RestorePreflight> {
    if (request.untilEvent !== undefined && request.until !== undefined) throw invalid('Give either untilEvent or until, not both');
    const openers = { given: request.keys ?? null, installationIdentity: () => this.installation.identity() };
    let encrypted: boolean | null = null;
    await mkdir(this.tempDir, { recursive: true });
    const copy = join(this.tempDir, `preflight-${randomUUID()}.zip`);
    let file: string | undefined;
    let source: string;
    let fetchError: string | null = null;
    // Where the archive came from, where an incremental's bases may be found too.
    let origin: ArchiveSource | undefined;
    let release: () => Promise<void> = async () => undefined;
    const owned: string[] = [copy];
    // A file made for this dry run (a copy, a download, a decryption) goes when it has answered; a stored backup read in place stays.
    const keep = <F extends { file: string; owned: boolean }>(fetched: F): F => {
      if (fetched.owned) owned.push(fetched.file);
      return fetched;
    };
    try {
      switch (request.source.kind) {
        case 'backup': {
          const backup = await this.backups.get(request.source.backupId);
          if (isActive(backup)) throw conflict(`Backup ${backup.id} is still ${backup.status}; check it once it is Completed`);
          if (backup.status !== 'Completed') throw conflict(`Backup ${backup.id} failed; restore a Completed backup`);
          source = `backup:${backup.id}`;
          origin = { kind: 'backup', backup };
          await this.restores.requireOpener(backup, request.keys ?? null);
          try {
            ({ file, encrypted } = keep(await archiveOnDisk({ kind: 'backup', backup }, copy, { blobs: this.blobs, config: this.config, archives: this.archives, openers })));
          } catch (error) {
            if (!(error instanceof EncryptedArchiveError)) throw error;
            fetchError = error.message;
            encrypted = true;
          }
          break;
        }
        case 'url': {
          requireRestoreUrl(request.source.url);
          source = `url:${describeUrl(request.source.url)}`;
          origin = { kind: 'url', url: request.source.url };
          try {
            ({ file, encrypted } = keep(await archiveOnDisk({ kind: 'url', url: request.source.url }, copy, { blobs: this.blobs, config: this.config, openers })));
          } catch (error) {
            if (!(error instanceof DownloadError || error instanceof UnsafeUrlError || error instanceof EncryptedArchiveError)) throw error;
            fetchError = error.message;
            encrypted = error instanceof EncryptedArchiveError ? true : null;
          }
          break;
        }
        case 'repository': {
          // What cannot be a source (a key outside the copy layout, an unknown repository, no such copy) is refused as a restore would refuse it.
          await locateRepositoryArchive(this.repositories, request.source, this.config.maxRestoreBytes);
          source = describeRepositorySource(request.source);
          origin = request.source;
          try {
            ({ file, encrypted } = keep(await archiveOnDisk(request.source, copy, { blobs: this.blobs, config: this.config, repositories: this.repositories, openers })));
          } catch (error) {
            if (!(error instanceof RepositoryReadError || error instanceof EncryptedArchiveError)) throw error;
            fetchError = error.message;
            encrypted = error instanceof EncryptedArchiveError ? true : null;
          }
          break;
        }
        case 'upload':
          source = `upload:${request.source.fileName}`;
          origin = { kind: 'upload', file: request.source.file };
          owned.push(request.source.file);
          try {
            ({ file, encrypted } = keep(await archiveOnDisk({ kind: 'upload', file: request.source.file }, copy, { blobs: this.blobs, config: this.config, openers })));
          } catch (error) {
            if (!(error instanceof EncryptedArchiveError)) throw error;
            fetchError = error.message;
            encrypted = true;
          }
          break;
      }
      const sizeBytes = file ? (await stat(file)).size : null;
      let report: RehearsalReport | undefined;
      let error = fetchError;
      let chainLinks: ChainLink[] | undefined;
      if (file) {
        try {
          // An incremental archive is rehearsed with its chain, each base fetched and checked as a restore would.
          const chain = await fetchChain({ file, encrypted: encrypted === true, label: source }, origin!, {
            findBackup: (id) => this.backups.jobs.get(id),
            fetch: { blobs: this.blobs, config: this.config, repositories: this.repositories, archives: this.archives, openers },
            tempFile: () => join(this.tempDir, `preflight-${randomUUID()}.zip`),
          });
          release = chain.release;
          encrypted = chain.encrypted;
          chainLinks = chain.links;
          // Always the links: the archive fetchChain opened (its directory read once) is the one rehearsed.
          report = await rehearseRestore(chain.links, {
            catalog: this.catalog,
            participants: this.participants.all,
            maxExpandedBytes: this.config.maxRestoreExpandedBytes,
            untilEvent: request.untilEvent,
            until: request.until,
            lookupUser: (email) => this.users.findByEmail(email),
            encrypted: encrypted === true,
            scratchDir: this.tempDir,
          });
        } catch (problem) {
          if (!(problem instanceof InvalidArchiveError || problem instanceof EncryptedArchiveError)) throw problem;
          error = problem.message;
        }
      }
      // What a restore of it would differ in from the app it was taken from, when this installation has that app.
      const diff = file && report && error === null && report.include === null ? await this.diffs.archiveAgainstLive(chainLinks ?? file, report.app.id, { untilEvent: request.untilEvent, until: request.until }) : null;
      const wanted = request.name ?? report?.app.name;
      const name = wanted === undefined ? null : await this.availability(wanted);
      return {
        dryRun: true,
        valid: error === null && report !== undefined && name?.available === true,
        error,
        source,
        sizeBytes,
        encrypted,
        name,
        app: report?.app ?? null,
        archive: report ? { created: report.created, formatVersion: report.formatVersion, firstEventAt: report.counts.firstEventAt, lastEventAt: report.counts.lastEventAt } : null,
        events: report ? { inArchive: report.counts.events, toRestore: report.checkedEvents } : null,
        files: report?.checkedFiles ?? null,
        users: report?.users ?? null,
        counts: report?.counts ?? null,
        partial: report ? report.include !== null : null,
        include: report?.include ?? null,
        notes: report?.notes ?? [],
        missing: report?.missing ?? [],
        warnings: report?.warnings ?? [],
        diff,
      };
    } finally {
      await release();
      for (const path of owned) await rm(path, { force: true });
    }
  }

  /** Whether a restore could take the name now: the name rule, then the claims. */
  private async availability(value: string): Promise<{ value: string; available: boolean; reason: string | null }> {
    try {
      validateName(value);
    } catch (error) {
      return { value, available: false, reason: error instanceof DomainError ? error.message : String(error) };
    }
    const entry = await this.names.lookup(claims.appName(value));
    if (!entry) return { value, available: true, reason: null };
    return {
      value,
      available: false,
      reason: entry.state === 'committed' ? `An app named "${value}" exists; choose another name` : `The name "${value}" is reserved by a restore or a create in progress`,
    };
  }
}
