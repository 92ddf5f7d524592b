import { z } from 'zod';
import { Time } from './common.schemas.js';

const LINK_MIN_SECONDS = 60;
const LINK_MAX_SECONDS = 30 * 24 * 3600;
const LINK_DEFAULT = '24h';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `expiresIn`: seconds as a number, or a duration like `90s`, `15m`, `1h`, `7d`; 60 s to 30 days. */
const ExpiresIn = z
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

/** The query of a link's URL; read by the link's own check (a 403 names what is wrong), not by a schema. */
export const LinkQuery = z.object({
  expires: z.string().regex(/^\d+$/).describe('The expiry the link was signed with (Unix seconds)'),
  signature: z.string().regex(/^[A-Za-z0-9_-]{43}$/).describe('HMAC-SHA256 of link id, backup id and expiry (base64url)'),
});

/** A new link: its URL, which carries the signature, is shown only here. */
export const NewLink = z.strictObject({ id: z.string(), url: z.url(), expires: Time });
export type NewLink = z.infer<typeof NewLink>;

export const Link = z.strictObject({
  id: z.string(),
  backupId: z.string(),
  appId: z.string(),
  created: Time,
  createdBy: z.string(),
  expires: Time,
  revoked: Time.nullable(),
  state: z.enum(['active', 'expired', 'revoked']),
});
export type Link = z.infer<typeof Link>;
