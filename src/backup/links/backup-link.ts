import { z } from 'zod';

/** A signed, expiring, revocable download link for one backup's archive. Never holds its signature. */
export interface BackupLink {
  id: string;
  backupId: string;
  appId: string;
  created: string;
  createdBy: string;
  expires: string;
  revoked: string | null;
}

export const LINK_MIN_SECONDS = 60;
export const LINK_MAX_SECONDS = 30 * 24 * 3600;
export const LINK_DEFAULT = '24h';
/** Links a backup may have that are neither expired nor revoked. */
export const MAX_ACTIVE_LINKS = 100;

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `expiresIn`: seconds as a number, or a duration like `90s`, `15m`, `1h`, `7d`; 60 s to 30 days. */
export const ExpiresIn = z
  .union([z.number(), z.string()])
  .optional()
  .default(LINK_DEFAULT)
  .transform((value, ctx) => {
    let seconds: number | undefined;
    if (typeof value === 'number') seconds = Number.isInteger(value) ? value : undefined;
    else {
      const match = /^(\d{1,7})(s|m|h|d)$/.exec(value.trim());
      if (match) seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
    }
    if (seconds === undefined || seconds < LINK_MIN_SECONDS || seconds > LINK_MAX_SECONDS) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration from 60s to 30d, like "15m", "1h" or "7d", or whole seconds' });
      return z.NEVER;
    }
    return seconds;
  });

export const CreateLinkBody = z.strictObject({ expiresIn: ExpiresIn });

export type LinkState = 'active' | 'expired' | 'revoked';

export function stateOf(link: BackupLink, now = Date.now()): LinkState {
  if (link.revoked) return 'revoked';
  return Date.parse(link.expires) <= now ? 'expired' : 'active';
}

/** The public shape: what a list shows (the URL, which carries the signature, is shown only once). */
export const toLinkView = (link: BackupLink) => ({ ...link, state: stateOf(link) });
