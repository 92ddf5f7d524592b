import type { Link } from '../../contract/links.schemas.js';

/** A signed, expiring, revocable download link for one backup's archive. Never holds its signature. */
export interface BackupLink {
  id: string;
  backupId: string;
  appId: string;
  created: string;
  createdBy: string;
  expires: string;
  revoked: string | null;
  /**
   * Made (by an admin: only they reach a deleted app's backups) after the backup's app was deleted:
   * it does not end with the app, as links made while the app lived do.
   */
  afterAppDeleted?: true;
}

/** Links a backup may have that are neither expired nor revoked. */
export const MAX_ACTIVE_LINKS = 100;

export type LinkState = 'active' | 'expired' | 'revoked';

export function stateOf(link: BackupLink, now = Date.now()): LinkState {
  if (link.revoked) return 'revoked';
  return Date.parse(link.expires) <= now ? 'expired' : 'active';
}

/** The public shape: what a list shows (the URL, which carries the signature, is shown only once). */
export const toLinkView = ({ id, backupId, appId, created, createdBy, expires, revoked }: BackupLink): Link => {
  const link = { id, backupId, appId, created, createdBy, expires, revoked };
  return { ...link, state: stateOf(link) };
};
