import { domainToASCII } from 'node:url';

const LOCAL_PART = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/;
/** Control, format (zero-width, bidirectional) and separator characters: invisible in a UI, different to a computer. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\u2028\u2029]/u;

export type EmailCheck = { email: string } | { problem: string };

/**
 * Emails are the key by which restores map people between installations, so two spellings that
 * look alike must not become two accounts: an email is normalised (Unicode NFC, trimmed, lower
 * case, the domain in its ASCII "xn--" form) and refused when it holds invisible characters or a
 * local part outside ASCII, where letters of other scripts can pass for Latin ones.
 */
export function checkEmail(raw: string): EmailCheck {
  const email = raw.normalize('NFC').trim();
  if (email.length === 0) return { problem: 'is empty' };
  if (email.length > 254) return { problem: 'is longer than 254 characters' };
  if (INVISIBLE.test(email)) return { problem: 'contains control, invisible or space characters' };
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return { problem: 'is not an email address (like name@example.com)' };
  const local = email.slice(0, at);
  if (!LOCAL_PART.test(local)) return { problem: 'must have a name part of plain ASCII letters, digits and . _ + - (look-alike letters of other scripts are refused)' };
  const domain = domainToASCII(email.slice(at + 1));
  if (!domain || domain.length > 253) return { problem: 'has a domain that is not a valid host name' };
  return { email: `${local}@${domain}`.toLowerCase() };
}

/** The normalised form, or the input lower-cased when it is not a valid email (lookups then find nothing). */
export function normalizeEmail(raw: string): string {
  const checked = checkEmail(raw);
  return 'email' in checked ? checked.email : raw.normalize('NFC').trim().toLowerCase();
}
