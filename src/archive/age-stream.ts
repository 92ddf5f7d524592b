import { createCipheriv, createDecipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { base64nopad } from '@scure/base';
import { Decrypter, type Identity, type Stanza } from 'age-encryption';
import { type ArchiveKeys, recipientBytes } from './age-keys.js';
import { quoted } from '../platform/text/control-characters.js';

/**
 * The age format (age-encryption.org/v1, https://age-encryption.org/v1) as Node streams, so that
 * an archive is encrypted as it is written and decrypted as it is read, in 64 KiB chunks, whatever
 * its size. Any age implementation (`age -d`, rage, the age libraries) opens what this writes, and
 * this opens what they write.
 *
 * Who does what (docs/architecture.md, *Encrypted archives*): the `age-encryption` package (by
 * age's author) parses a header read from outside, checks its MAC and unwraps the file key with an
 * identity; this module writes headers and runs the payload's STREAM construction with Node's own
 * ChaCha20-Poly1305, and derives passphrase keys with Node's own scrypt. The package's pure
 * JavaScript cipher runs at about 60 MB/s on the event loop, Node's at over 1 GB/s, and its scrypt
 * would hold the event loop for seconds where Node's runs on the thread pool.
 */

/** The header's first line: how an age file is recognised. */
export const AGE_MAGIC = 'age-encryption.org/v1\n';
/** Plaintext bytes per STREAM chunk; each ciphertext chunk has a 16-byte tag more. */
const CHUNK = 64 * 1024;
const TAG = 16;
/** A header larger than this is refused before it is parsed (a few hundred recipients fit in 64 KiB). */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** scrypt's work factor (log2 N) for passphrases, as `age -p` uses. */
export const SCRYPT_WORK_FACTOR = 18;
/** The highest work factor a passphrase file may ask for: 2^20 takes 1 GiB of memory for a moment. */
export const MAX_SCRYPT_WORK_FACTOR = 20;

/** Why an age file could not be opened; `reason` lets callers word it for their audience. */
export class AgeDecryptionError extends Error {
  constructor(
    readonly reason: 'not-age' | 'no-key' | 'wrong-key' | 'damaged' | 'truncated' | 'unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'AgeDecryptionError';
  }
}

/** Who an archive is encrypted to: X25519 recipients, or one passphrase (age allows no mix). */
export type AgeEncryptTo = { recipients: readonly string[] } | { passphrase: string; workFactor?: number };

const ZERO_NONCE = Buffer.alloc(12);

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return sealed;
}

/** Plaintext, or null when the tag does not match (wrong key, changed bytes). */
function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
  } catch {
    return null;
  }
}

const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

function scryptKey(passphrase: string, salt: Uint8Array, workFactor: number): Promise<Buffer> {
  const label = Buffer.from('age-encryption.org/v1/scrypt', 'utf8');
  const N = 2 ** workFactor;
  return new Promise((resolve, reject) =>
    scrypt(Buffer.from(passphrase, 'utf8'), Buffer.concat([label, salt]), 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 + 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** An X25519 stanza: the file key wrapped for one recipient through an ephemeral key. */
function x25519Stanza(recipient: string, fileKey: Uint8Array): { args: string[]; body: Uint8Array } {
  const theirs = recipientBytes(recipient);
  const ephemeral = generateKeyPairSync('x25519');
  const share = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(theirs).toString('base64url') }, format: 'jwk' });
  const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: peer });
  if (secret.every((byte) => byte === 0)) throw new Error('The recipient is a low-order point; it cannot be encrypted to');
  const wrapKey = hkdf(secret, Buffer.concat([share, theirs]), 'age-encryption.org/v1/X25519');
  secret.fill(0);
  const body = seal(wrapKey, ZERO_NONCE, fileKey);
  wrapKey.fill(0);
  return { args: ['X25519', base64nopad.encode(share)], body };
}

async function scryptStanza(passphrase: string, workFactor: number, fileKey: Uint8Array): Promise<{ args: string[]; body: Uint8Array }> {
  const salt = randomBytes(16);
  const wrapKey = await scryptKey(passphrase, salt, workFactor);
  const body = seal(wrapKey, ZERO_NONCE, fileKey);
  wrapKey.fill(0);
  return { args: ['scrypt', base64nopad.encode(salt), String(workFactor)], body };
}

/** The header: version line, stanzas (bodies in base64 lines of 64 columns), and its MAC under the file key. */
function header(stanzas: readonly { args: string[]; body: Uint8Array }[], fileKey: Uint8Array): Buffer {
  let text = AGE_MAGIC;
  for (const stanza of stanzas) {
    text += `-> ${stanza.args.join(' ')}\n`;
    const encoded = base64nopad.encode(stanza.body);
    for (let at = 0; at < encoded.length; at += 64) text += `${encoded.slice(at, at + 64)}\n`;
    // A body whose last line is full is followed by an empty line, so readers know it ended.
    if (encoded.length % 64 === 0) text += '\n';
  }
  text += '---';
  const macKey = hkdf(fileKey, Buffer.alloc(0), 'header');
  const mac = createHmac('sha256', macKey).update(text, 'utf8').digest();
  macKey.fill(0);
  return Buffer.from(`${text} ${base64nopad.encode(mac)}\n`, 'utf8');
}

/** The STREAM nonce of chunk `counter`: 11 bytes of big-endian counter, then the last-chunk flag. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
  nonce.writeUInt32BE(counter % 2 ** 32, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * A stream that encrypts what passes through it into an age file: header, nonce, then the payload
 * in chunks. Memory stays at one chunk whatever the size. The file key exists only until the header
 * is made; the payload key is overwritten when the stream ends.
 */
export async function ageEncryptor(to: AgeEncryptTo): Promise<Transform> {
  const fileKey = randomBytes(16);
  let stanzas;
  try {
    if ('passphrase' in to) stanzas = [await scryptStanza(to.passphrase, to.workFactor ?? SCRYPT_WORK_FACTOR, fileKey)];
    else {
      if (to.recipients.length === 0) throw new Error('An archive is encrypted to at least one recipient');
      stanzas = to.recipients.map((recipient) => x25519Stanza(recipient, fileKey));
    }
  } catch (error) {
    fileKey.fill(0);
    throw error;
  }
  const head = header(stanzas, fileKey);
  const nonce = randomBytes(16);
  const payloadKey = hkdf(fileKey, nonce, 'payload');
  fileKey.fill(0);

  const pending = Buffer.alloc(CHUNK);
  let used = 0;
  let counter = 0;
  let started = false;
  const wipe = () => {
    payloadKey.fill(0);
    pending.fill(0);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!started) {
        started = true;
        this.push(head);
        this.push(nonce);
      }
      let offset = 0;
      while (offset < chunk.length) {
        // A full chunk is sealed only once more bytes follow: the last one carries the flag.
        if (used === CHUNK) {
          this.push(seal(payloadKey, chunkNonce(counter, false), pending));
          counter += 1;
          used = 0;
        }
        const n = Math.min(CHUNK - used, chunk.length - offset);
        chunk.copy(pending, used, offset, offset + n);
        used += n;
        offset += n;
      }
      callback();
    },
    flush(callback: TransformCallback) {
      if (!started) {
        this.push(head);
        this.push(nonce);
      }
      this.push(seal(payloadKey, chunkNonce(counter, true), pending.subarray(0, used)));
      wipe();
      callback();
    },
    destroy(error, callback) {
      wipe();
      callback(error);
    },
  });
}

/**
 * A scrypt identity for the age-encryption package's Decrypter, on Node's scrypt (thread pool, not
 * the event loop). As the format requires, a scrypt stanza must be the header's only stanza.
 */
class ScryptIdentity implements Identity {
  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== 'scrypt') continue;
      if (stanzas.length !== 1) throw new AgeDecryptionError('damaged', 'The age header mixes a passphrase (scrypt) stanza with others, which the format forbids');
      const [, saltText, factorText] = stanza.args;
      if (stanza.args.length !== 3 || !saltText || !factorText || !/^[1-9][0-9]?$/.test(factorText)) throw new AgeDecryptionError('damaged', 'The age header’s passphrase (scrypt) stanza is malformed');
      let salt: Uint8Array;
      try {
        salt = base64nopad.decode(saltText);
      } catch {
        throw new AgeDecryptionError('damaged', 'The age header’s passphrase (scrypt) stanza is malformed');
      }
      const workFactor = Number(factorText);
      if (salt.length !== 16 || stanza.body.length !== 32) throw new AgeDecryptionError('damaged', 'The age header’s passphrase (scrypt) stanza is malformed');
      if (workFactor > MAX_SCRYPT_WORK_FACTOR) {
        throw new AgeDecryptionError('unsupported', `The passphrase was stretched with scrypt work factor ${workFactor}; AppVault opens up to ${MAX_SCRYPT_WORK_FACTOR} (2^${MAX_SCRYPT_WORK_FACTOR} needs 1 GiB of memory). Decrypt it with age -d and restore the zip`);
      }
      const key = await scryptKey(this.passphrase, salt, workFactor);
      const fileKey = open(key, ZERO_NONCE, stanza.body);
      key.fill(0);
      return fileKey;
    }
    return null;
  }
}

/** Where the header ends: just past the MAC line (`--- …\n`), or -1 while it has not come yet. */
function headerEnd(bytes: Buffer): number {
  const at = bytes.indexOf('\n--- ');
  if (at < 0) return -1;
  const end = bytes.indexOf('\n', at + 1);
  return end < 0 ? -1 : end + 1;
}

/** What to say when no key given opens a file, by what was given. */
export function wrongKeyMessage(given: { identity: boolean; passphrase: boolean }): string {
  if (given.passphrase && !given.identity) return 'The passphrase does not open this archive (or it was encrypted to recipients, not to a passphrase)';
  if (given.passphrase) return 'Neither the identity nor the passphrase opens this archive: it was encrypted to other recipients or another passphrase';
  return 'The identity does not open this archive: it was encrypted to other recipients (or to a passphrase)';
}

/** The words for what the package's header parser throws. */
function headerFailure(error: unknown, keys: ArchiveKeys): AgeDecryptionError {
  if (error instanceof AgeDecryptionError) return error;
  const text = error instanceof Error ? error.message : String(error);
  if (text.includes('no identity matched')) return new AgeDecryptionError('wrong-key', wrongKeyMessage({ identity: keys.identities.length > 0, passphrase: keys.hasPassphrase }));
  if (text.includes('HMAC')) return new AgeDecryptionError('damaged', 'The age header was changed after it was written (its MAC does not match); the archive is damaged or was tampered with');
  return new AgeDecryptionError('damaged', `The age header is malformed (${quoted(text, 200)}); the archive is damaged or not an age file`);
}

/**
 * A stream that decrypts an age file as it passes: the header (at most MAX_HEADER_BYTES) is parsed
 * and its file key unwrapped with `keys`, then each chunk is authenticated before its plaintext is
 * passed on. A wrong key fails at the header, before any plaintext; a changed byte fails its chunk;
 * a file cut short fails at the end (its last chunk lacks the last-chunk flag). Errors are
 * AgeDecryptionError; the caller discards whatever plaintext it received before one.
 */
export function ageDecryptor(keys: ArchiveKeys): Transform {
  let state: 'header' | 'nonce' | 'payload' = 'header';
  // The header, then the nonce, as they come in.
  let buffered = Buffer.alloc(0);
  let fileKey: Buffer | null = null;
  let payloadKey: Buffer | null = null;
  const pending = Buffer.alloc(CHUNK + TAG);
  let used = 0;
  let counter = 0;
  const magic = Buffer.from(AGE_MAGIC, 'utf8');
  const wipe = () => {
    fileKey?.fill(0);
    payloadKey?.fill(0);
    pending.fill(0);
  };

  const unwrap = async (head: Buffer): Promise<Buffer> => {
    if (keys.isEmpty) throw new AgeDecryptionError('no-key', 'The archive is encrypted (age); give the identity or the passphrase it was encrypted to');
    const decrypter = new Decrypter();
    for (const identity of keys.identities) decrypter.addIdentity(identity);
    const passphrase = keys.passphrase;
    if (passphrase !== null) decrypter.addIdentity(new ScryptIdentity(passphrase));
    try {
      return Buffer.from(await decrypter.decryptHeader(head));
    } catch (error) {
      throw headerFailure(error, keys);
    }
  };

  /** Authenticates the full chunk held in `pending` (more bytes follow it, so it is not the last) and passes its plaintext on. */
  const decryptFull = (transform: Transform) => {
    const plain = open(payloadKey!, chunkNonce(counter, false), pending);
    if (!plain) throw new AgeDecryptionError('damaged', `The encrypted archive is damaged or was tampered with: chunk ${counter + 1} does not authenticate`);
    transform.push(plain);
    counter += 1;
    used = 0;
  };

  const receive = async (transform: Transform, chunk: Buffer) => {
    if (state === 'header') {
      buffered = Buffer.concat([buffered, chunk]);
      const checked = Math.min(buffered.length, magic.length);
      if (!buffered.subarray(0, checked).equals(magic.subarray(0, checked))) throw new AgeDecryptionError('not-age', 'This is not an age-encrypted file');
      const end = headerEnd(buffered);
      if (end < 0) {
        if (buffered.length > MAX_HEADER_BYTES) throw new AgeDecryptionError('damaged', `The age header is larger than ${MAX_HEADER_BYTES} bytes; the file is damaged or not an archive AppVault opens`);
        return;
      }
      fileKey = await unwrap(buffered.subarray(0, end));
      chunk = buffered.subarray(end);
      buffered = Buffer.alloc(0);
      state = 'nonce';
    }
    if (state === 'nonce') {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 16) return;
      payloadKey = hkdf(fileKey!, buffered.subarray(0, 16), 'payload');
      fileKey!.fill(0);
      fileKey = null;
      chunk = buffered.subarray(16);
      buffered = Buffer.alloc(0);
      state = 'payload';
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (used === pending.length) decryptFull(transform);
      const n = Math.min(pending.length - used, chunk.length - offset);
      chunk.copy(pending, used, offset, offset + n);
      used += n;
      offset += n;
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      receive(this, chunk).then(
        () => callback(),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    },
    flush(callback: TransformCallback) {
      try {
        if (state === 'header') {
          throw buffered.length === 0 ? new AgeDecryptionError('not-age', 'The file is empty') : new AgeDecryptionError('truncated', 'The encrypted archive is cut short: it ends inside the age header');
        }
        if (state === 'nonce') throw new AgeDecryptionError('truncated', 'The encrypted archive is cut short: it ends before its payload');
        // The last chunk: flagged as last, and empty only when the whole payload is.
        const plain = open(payloadKey!, chunkNonce(counter, true), pending.subarray(0, used));
        if (!plain || (plain.length === 0 && counter > 0)) {
          throw new AgeDecryptionError('truncated', 'The encrypted archive is cut short or its end was changed: its last chunk does not authenticate as the last one');
        }
        this.push(plain);
        wipe();
        callback();
      } catch (error) {
        wipe();
        callback(error as Error);
      }
    },
    destroy(error, callback) {
      wipe();
      callback(error);
    },
  });
}
