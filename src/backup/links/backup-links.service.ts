import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { READ_STORE, type ReadCollection, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { MAINTAINERS } from '../../auth/access.decorator.js';
import { APP_DIRECTORY, type AppDirectory, PRINCIPAL_RESOLVER, type PrincipalResolver } from '../../auth/auth.ports.js';
import { conflict, DomainError, forbidden, gone, notFound } from '../../platform/domain-errors.js';
import { routePath } from '../../contract/api-routes.js';
import type { Page } from '../../contract/paging.schemas.js';
import type { BackupJob } from '../shared/backup-job.js';
import { BackupsService } from '../create/backups.service.js';
import { InstallationService } from '../shared/installation.service.js';
import { type BackupLink, MAX_ACTIVE_LINKS, stateOf } from './backup-link.js';

const invalid = () => forbidden('This download link is not valid: it is incomplete, altered or not from this installation. Ask for a new link.');

/**
 * Download links for migrations and hand-overs: a URL that serves one backup's archive without an
 * API key until it expires or is revoked. The URL carries the expiry and an HMAC-SHA256 over link
 * id, backup id and expiry with the installation's secret; the stored link (never the signature)
 * says whether it was revoked. A link also dies with what it points into, checked each time it is
 * used: its backup, the backup's app, and its maker's right to make it (an admin, or an Owner or
 * Developer of the app). A link stored without a maker (none are made so) lives by the first two.
 */
@Injectable()
export class BackupLinksService {
  private readonly logger = new Logger(BackupLinksService.name);
  private readonly links: ReadCollection<BackupLink>;

  constructor(
    @Inject(READ_STORE) store: ReadStore,
    private readonly backups: BackupsService,
    private readonly installation: InstallationService,
    private readonly moduleRef: ModuleRef,
  ) {
    this.links = store.collection<BackupLink>('backup_links', { indexes: ['backupId', ['backupId', 'created']] });
  }

  async create(backupId: string, appId: string | undefined, expiresInSeconds: number, actor: string, baseUrl: string): Promise<{ id: string; url: string; expires: string }> {
    const backup = await this.backups.completed(backupId, appId);
    const existing = await this.links.find({ backupId }, { top: 1000 });
    const active = existing.items.filter((link) => stateOf(link) === 'active').length;
    if (active >= MAX_ACTIVE_LINKS) throw conflict(`Backup ${backupId} has ${active} active links, the most it may have; revoke some first`);
    const expiresAt = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const appDeleted = !(await this.apps().findById(backup.appId));
    const link: BackupLink = {
      id: randomUUID(),
      backupId: backup.id,
      appId: backup.appId,
      created: new Date().toISOString(),
      createdBy: actor,
      expires: new Date(expiresAt * 1000).toISOString(),
      revoked: null,
      ...(appDeleted ? { afterAppDeleted: true as const } : {}),
    };
    await this.links.put(link);
    const signature = await this.sign(link.id, link.backupId, expiresAt);
    this.logger.log(`Download link ${link.id} for backup ${backup.id} of app ${backup.appName} made, valid until ${link.expires}`);
    return { id: link.id, url: `${baseUrl}${routePath('links.archive', { linkId: link.id })}?expires=${expiresAt}&signature=${signature}`, expires: link.expires };
  }

  async list(backupId: string, appId: string | undefined, page: Page): Promise<{ total: number; items: BackupLink[] }> {
    await this.backups.get(backupId, appId);
    return this.links.find({ backupId }, { sort: [{ field: 'created', direction: 'desc' }], ...page });
  }

  async revoke(backupId: string, appId: string | undefined, linkId: string): Promise<void> {
    await this.backups.get(backupId, appId);
    const link = await this.links.get(linkId);
    if (!link || link.backupId !== backupId) throw notFound(`Backup ${backupId} has no link ${linkId}`);
    if (link.revoked) return;
    await this.links.put({ ...link, revoked: new Date().toISOString() });
    this.logger.log(`Download link ${link.id} for backup ${backupId} revoked`);
  }

  /**
   * The backup a link's URL may download, or why not: 403 for a link that is not genuine (unknown
   * id, wrong or missing signature, an expiry other than the signed one), 410 for one that was
   * genuine but has expired or was revoked, or whose backup, app or maker's access is gone.
   */
  async resolve(linkId: string, expires: string | undefined, signature: string | undefined): Promise<BackupJob> {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature || !/^[A-Za-z0-9_-]{43}$/.test(signature)) throw invalid();
    const link = await this.links.get(linkId);
    if (!link) throw invalid();
    const expected = Buffer.from(await this.sign(link.id, link.backupId, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    if (Number(expires) * 1000 !== Date.parse(link.expires)) throw invalid();
    if (link.revoked) throw gone(`This download link was revoked at ${link.revoked}. Ask for a new link.`);
    if (Date.parse(link.expires) <= Date.now()) throw gone(`This download link expired at ${link.expires}. Ask for a new link.`);
    let backup: BackupJob;
    try {
      backup = await this.backups.completed(link.backupId);
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'not-found') throw gone('The backup behind this download link was deleted.');
      throw error;
    }
    const app = await this.apps().findById(link.appId);
    if (!app) {
      // An admin's link made for a deleted app's backup (a recovery, a move elsewhere) lives while its maker is an admin.
      if (link.afterAppDeleted && (await this.isAdmin(link.createdBy))) return backup;
      throw gone('The app behind this download link was deleted; its links ended with it. An administrator can still download the backup, or make a new link for it.');
    }
    if (link.createdBy && !(await this.mayStillLink(link.createdBy, app.contributors))) {
      throw gone('The person who made this download link no longer has access to the app (as an Owner or Developer, or an administrator); their links ended with it. Ask for a new link.');
    }
    return backup;
  }

  /** Whether the maker of a link could make it today: an admin, or an Owner or Developer of the app. */
  private async mayStillLink(userId: string, contributors: readonly { userId: string; role: string }[]): Promise<boolean> {
    const role = contributors.find((c) => c.userId === userId)?.role;
    if (role && (MAINTAINERS as readonly string[]).includes(role)) return true;
    return this.isAdmin(userId);
  }

  private async isAdmin(userId: string): Promise<boolean> {
    const user = await this.moduleRef.get<PrincipalResolver>(PRINCIPAL_RESOLVER, { strict: false }).byId(userId);
    return user?.admin === true;
  }

  // Resolved on use: the apps module provides it, and it needs the backup module's services.
  private apps(): AppDirectory {
    return this.moduleRef.get<AppDirectory>(APP_DIRECTORY, { strict: false });
  }

  private async sign(linkId: string, backupId: string, expiresAt: number): Promise<string> {
    return createHmac('sha256', await this.installation.linkSecret()).update(`${linkId}.${backupId}.${expiresAt}`).digest('base64url');
  }
}
