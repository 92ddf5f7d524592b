import { randomBytes } from 'node:crypto';
import { bech32 } from '@scure/base';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';

/**
 * The keys of the age format (age-encryption.org/v1) as AppVault takes them: recipients (public
 * keys, `age1…`) that archives are encrypted to, identities (private keys, `AGE-SECRET-KEY-1…`) and
 * passphrases that open them. Parsing never quotes a secret back: a message says which line or
 * field is wrong, never what it holds.
 */

/** A key or passphrase given for encryption or decryption was refused; the message never quotes it. */
export class AgeKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgeKeyError';
  }
}

/** An X25519 recipient: `age1` and 58 more bech32 characters (what `age-keygen` prints as the public key). */
export const RECIPIENT_PATTERN = /^age1[02-9ac-hj-np-z]{58}$/;
/** The longest passphrase taken (far beyond any a person types; bounds what scrypt is given). */
export const MAX_PASSPHRASE_LENGTH = 1024;
/** An identity file holds a few keys, not a keyring. */
const MAX_IDENTITIES = 16;

/** The 32 bytes of an X25519 recipient, or an AgeKeyError saying what is wrong with it (it is public: quoting it is fine). */
export function recipientBytes(recipient: string): Uint8Array {
  if (/^age1(pq|tag|tagpq)1/.test(recipient)) {
    throw new AgeKeyError(`"${recipient.slice(0, 12)}…" is a post-quantum or tag recipient; AppVault encrypts to X25519 recipients (age1…, as age-keygen makes them)`);
  }
  if (!RECIPIENT_PATTERN.test(recipient)) throw new AgeKeyError('is not an age X25519 recipient: "age1" and 58 lowercase bech32 characters, as age-keygen prints it');
  try {
    const decoded = bech32.decodeToBytes(recipient);
    if (decoded.prefix !== 'age' || decoded.bytes.length !== 32) throw new Error('wrong length');
    return decoded.bytes;
  } catch {
    throw new AgeKeyError('is not an age X25519 recipient: its checksum does not match (a character was changed or lost)');
  }
}

/** Whether `text` is a valid X25519 recipient. */
export function isRecipient(text: string): boolean {
  try {
    recipientBytes(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The identities in an identity file's text (what `age-keygen` writes, or a single key): one
 * `AGE-SECRET-KEY-1…` (or post-quantum `AGE-SECRET-KEY-PQ-1…`) per line, `#` comments and blank
 * lines skipped. Each is checked (bech32 checksum, length). Errors name the line, never its text.
 */
export async function parseIdentities(text: string, what = 'identity'): Promise<string[]> {
  const identities: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = lines.length > 1 ? ` (line ${index + 1})` : '';
    if (!/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(line)) {
      throw new AgeKeyError(`${what}${where} is not an age identity: a line AGE-SECRET-KEY-1… as age-keygen writes it (the text is not shown here)`);
    }
    try {
      await identityToRecipient(line);
    } catch {
      throw new AgeKeyError(`${what}${where} is not a valid age identity: its checksum or length is wrong (a character was changed or lost)`);
    }
    identities.push(line);
    if (identities.length > MAX_IDENTITIES) throw new AgeKeyError(`${what} holds more than ${MAX_IDENTITIES} keys; give the one that opens the archive`);
  }
  if (identities.length === 0) throw new AgeKeyError(`${what} holds no age identity (a line AGE-SECRET-KEY-1…)`);
  return identities;
}

/** A passphrase as taken: not empty, bounded; trailing line breaks (from a file) are dropped. */
export function checkPassphrase(text: string, what = 'passphrase'): string {
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase.length === 0) throw new AgeKeyError(`${what} is empty`);
  if (passphrase.length > MAX_PASSPHRASE_LENGTH) throw new AgeKeyError(`${what} is longer than ${MAX_PASSPHRASE_LENGTH} characters`);
  return passphrase;
}

/** A new X25519 key pair: the identity (private) and its recipient (public). */
export async function generateKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The recipient (public key) of an X25519 identity. */
export function recipientOf(identity: string): Promise<string> {
  return identityToRecipient(identity);
}

/**
 * A passphrase made for one backup: 160 random bits as 32 base32 letters in groups of four, easy to
 * read out and type, far beyond what an offline guess at scrypt's cost can reach.
 */
export function generatePassphrase(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(32);
  const letters = [...bytes].map((byte) => alphabet[byte & 31]!).join('');
  bytes.fill(0);
  return letters.match(/.{4}/g)!.join('-');
}

/**
 * What opens an encrypted archive for one job: identities and/or a passphrase, held as buffers so
 * that `dispose` can overwrite them when the job ends. JavaScript strings cannot be overwritten:
 * the copies a request body or a library makes are left to the garbage collector, referenced by
 * nothing once the job is over.
 */
export class ArchiveKeys {
  private identityBytes: Buffer[];
  private passphraseBytes: Buffer | null;

  private constructor(identities: readonly string[], passphrase: string | null) {
    this.identityBytes = identities.map((identity) => Buffer.from(identity, 'utf8'));
    this.passphraseBytes = passphrase === null ? null : Buffer.from(passphrase, 'utf8');
  }

  /** Checks and holds what a request or a command line gave: identity file text and/or a passphrase. */
  static async of(given: { identity?: string | null; passphrase?: string | null }, names = { identity: 'identity', passphrase: 'passphrase' }): Promise<ArchiveKeys | null> {
    const identities = given.identity ? await parseIdentities(given.identity, names.identity) : [];
    const passphrase = given.passphrase ? checkPassphrase(given.passphrase, names.passphrase) : null;
    if (identities.length === 0 && passphrase === null) return null;
    return new ArchiveKeys(identities, passphrase);
  }

  /** Keys already checked (the installation's own identity). */
  static ofIdentities(identities: readonly string[]): ArchiveKeys {
    return new ArchiveKeys(identities, null);
  }

  /** Another holder of this one's keys (the original can then be disposed on its own). */
  with(other: ArchiveKeys | null): ArchiveKeys {
    const joined = new ArchiveKeys([...this.identities, ...(other?.identities ?? [])], this.passphrase ?? other?.passphrase ?? null);
    return joined;
  }

  get identities(): string[] {
    return this.identityBytes.map((bytes) => bytes.toString('utf8'));
  }

  get passphrase(): string | null {
    return this.passphraseBytes?.toString('utf8') ?? null;
  }

  get hasPassphrase(): boolean {
    return this.passphraseBytes !== null;
  }

  get isEmpty(): boolean {
    return this.identityBytes.length === 0 && this.passphraseBytes === null;
  }

  /** Overwrites the held keys and forgets them; the holder opens nothing afterwards. */
  dispose(): void {
    for (const bytes of this.identityBytes) bytes.fill(0);
    this.passphraseBytes?.fill(0);
    this.identityBytes = [];
    this.passphraseBytes = null;
  }
}
