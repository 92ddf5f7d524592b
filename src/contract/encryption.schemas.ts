import { z } from 'zod';
import { NAME_MAX, NAME_PATTERN } from '../platform/text/identifier.rules.js';
import { Time } from './common.schemas.js';

/**
 * Encryption of archives in the age format (docs/backup-format.md, *Encrypted archives*):
 * recipients (public keys) admins and app Owners configure, what a backup or policy asks for, and
 * the keys a restore of an encrypted archive takes. Secrets are never quoted in a 400.
 */

/** An X25519 recipient as age-keygen prints it; the server also checks its checksum. */
const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
export const RECIPIENT_MESSAGE = 'must be an age X25519 recipient ("age1" and 58 lowercase letters and digits, as age-keygen prints the public key)';
/** A backup is encrypted to a few recipients, not a keyring. */
export const MAX_BACKUP_RECIPIENTS = 10;

export const RecipientBody = z.strictObject({
  name: z.string().max(NAME_MAX).regex(NAME_PATTERN, 'must be lowercase letters, digits and single dashes').describe('How backups and policies name it'),
  recipient: z.string().regex(AGE_RECIPIENT, RECIPIENT_MESSAGE).describe('The public key, `age1…`'),
});

export const Recipient = z.strictObject({
  name: z.string(),
  recipient: z.string().describe('The public key, `age1…`'),
  scope: z.enum(['installation', 'app']).describe('Configured by an admin for every app, or by an Owner for this app'),
  created: Time,
});
export type Recipient = z.infer<typeof Recipient>;
export const RecipientList = z.strictObject({ items: z.array(Recipient) });

export const InstallationRecipient = z.strictObject({
  recipient: z.string().describe('This installation’s own public key (`age1…`); its private key never leaves the installation'),
});

/**
 * What a backup or a policy asks for: `recipients` (age X25519 public keys, configured or not, or
 * names of configured recipients) or, for a backup started by hand, `passphrase: true` (a
 * passphrase made for it, answered once).
 */
export const EncryptionBody = z
  .strictObject({
    recipients: z
      .array(z.string().min(1).max(100))
      .min(1, 'must name at least one recipient')
      .max(MAX_BACKUP_RECIPIENTS, `may name at most ${MAX_BACKUP_RECIPIENTS} recipients`)
      .refine((names) => new Set(names).size === names.length, { message: 'names a recipient twice' })
      .optional()
      .describe('Public keys (`age1…`), or names of recipients configured for the app or the installation'),
    passphrase: z.literal(true, 'must be true (the server makes the passphrase and answers it once)').optional().describe('Encrypt with a passphrase the server makes and answers once (backups started by hand only)'),
  })
  .refine((body) => (body.recipients === undefined) !== (body.passphrase === undefined), { message: 'give either recipients or passphrase: true (age encrypts to one or the other)' })
  .describe('Encrypt the archive in the age format; absent: a plain zip');
export type EncryptionInput = z.infer<typeof EncryptionBody>;

/** How a backup is encrypted, as stored and served. */
export const Encryption = z.strictObject({
  recipients: z.array(z.strictObject({ name: z.string().nullable(), recipient: z.string() })).describe('The public keys it is encrypted to (empty for a passphrase)'),
  passphrase: z.boolean().describe('Encrypted with a passphrase instead'),
});
export type Encryption = z.infer<typeof Encryption>;

/** What opens an encrypted archive for one restore or dry run; never stored, logged or answered. */
export const ArchiveKeyFields = {
  identity: z.string().min(1).max(16 * 1024).optional().describe('An age identity (`AGE-SECRET-KEY-1…`, or an identity file’s text) that opens the archive; used for this job only'),
  passphrase: z.string().min(1).max(1024).optional().describe('The passphrase the archive was encrypted with; used for this job only'),
};
