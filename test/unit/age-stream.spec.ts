import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { AgeKeyError, ArchiveKeys, generateKeyPair, generatePassphrase, parseIdentities, recipientBytes } from '../../src/archive/age-keys.js';
import { AgeDecryptionError, ageDecryptor, ageEncryptor, type AgeEncryptTo } from '../../src/archive/age-stream.js';
import { decryptArchiveFile, EncryptedArchiveError, isAgeFile } from '../../src/archive/archive-decryption.js';
import {
  ageDecryptWithIdentity,
  ageDecryptWithPassphrase,
  ageEncryptToRecipients,
  ageEncryptWithPassphrase,
  ageInstalled,
  ageKeygen,
  writeIdentityFile,
} from '../support/age-cli.js';
import { tempDir } from '../support/test-server.js';

const CHUNK = 64 * 1024;
/** Sizes around the STREAM chunk boundaries, where an off-by-one would show. */
const SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17, 1_000_003];

async function encryptFile(input: string, output: string, to: AgeEncryptTo): Promise<void> {
  await pipeline(createReadStream(input), await ageEncryptor(to), createWriteStream(output));
}

async function decryptBytes(bytes: Buffer, keys: ArchiveKeys | null): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Small pieces, so header, nonce and chunks arrive split at every kind of place.
  const pieces = [] as Buffer[];
  for (let at = 0; at < bytes.length; at += 7919) pieces.push(bytes.subarray(at, at + 7919));
  await pipeline(Readable.from(pieces), ageDecryptor(keys ?? ArchiveKeys.ofIdentities([])), async function* (source) {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

async function failureOf(promise: Promise<unknown>): Promise<AgeDecryptionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgeDecryptionError);
  return error as AgeDecryptionError;
}

const present = ageInstalled();

describe.runIf(present)('age streams against Debian’s age CLI', () => {
  it('age -d -i opens what AppVault encrypts to X25519 recipients, at every chunk boundary', async () => {
    const dir = tempDir();
    const first = await ageKeygen(dir, 'first.txt');
    const second = await ageKeygen(dir, 'second.txt');
    for (const size of SIZES) {
      const plain = randomBytes(size);
      writeFileSync(join(dir, 'plain'), plain);
      await encryptFile(join(dir, 'plain'), join(dir, 'sealed.age'), { recipients: [first.recipient, second.recipient] });
      expect(await isAgeFile(join(dir, 'sealed.age'))).toBe(true);
      for (const key of [first, second]) {
        rmSync(join(dir, 'opened'), { force: true });
        await ageDecryptWithIdentity(join(dir, 'sealed.age'), join(dir, 'opened'), key.file);
        // age creates its output at the first byte it writes: an empty plaintext leaves none.
        const opened = existsSync(join(dir, 'opened')) ? readFileSync(join(dir, 'opened')) : Buffer.alloc(0);
        expect(opened.equals(plain), `size ${size}`).toBe(true);
      }
    }
  });

  it('AppVault opens what age -r encrypts, at every chunk boundary, with the identity file age-keygen wrote', async () => {
    const dir = tempDir();
    const key = await ageKeygen(dir);
    const keys = await ArchiveKeys.of({ identity: readFileSync(key.file, 'utf8') });
    for (const size of SIZES) {
      const plain = randomBytes(size);
      writeFileSync(join(dir, 'plain'), plain);
      await ageEncryptToRecipients(join(dir, 'plain'), join(dir, 'sealed.age'), [key.recipient]);
      expect((await decryptBytes(readFileSync(join(dir, 'sealed.age')), keys)).equals(plain), `size ${size}`).toBe(true);
    }
  });

  it('passphrases both ways: age -d opens AppVault’s scrypt stanza, AppVault opens age -p (typed on a terminal)', async () => {
    const dir = tempDir();
    const passphrase = generatePassphrase();
    expect(passphrase).toMatch(/^([a-z2-9]{4}-){7}[a-z2-9]{4}$/);
    const plain = randomBytes(2 * CHUNK + 5);
    writeFileSync(join(dir, 'plain'), plain);

    await encryptFile(join(dir, 'plain'), join(dir, 'ours.age'), { passphrase });
    expect(readFileSync(join(dir, 'ours.age'), 'latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n/);
    const opened = await ageDecryptWithPassphrase(join(dir, 'ours.age'), join(dir, 'opened'), passphrase);
    expect(opened.ok, opened.said).toBe(true);
    expect(readFileSync(join(dir, 'opened')).equals(plain)).toBe(true);
    const wrong = await ageDecryptWithPassphrase(join(dir, 'ours.age'), join(dir, 'wrong'), 'not the passphrase');
    expect(wrong.ok).toBe(false);

    await ageEncryptWithPassphrase(join(dir, 'plain'), join(dir, 'theirs.age'), passphrase);
    const keys = await ArchiveKeys.of({ passphrase });
    expect((await decryptBytes(readFileSync(join(dir, 'theirs.age')), keys)).equals(plain)).toBe(true);
    const refused = await failureOf(decryptBytes(readFileSync(join(dir, 'theirs.age')), await ArchiveKeys.of({ passphrase: 'not the passphrase' })));
    expect(refused.reason).toBe('wrong-key');
    expect(refused.message).toContain('passphrase does not open this archive');
  });
});

describe('age streams against the age-encryption package (age’s author’s TypeScript implementation)', () => {
  it('its Decrypter opens what AppVault writes; AppVault opens what its Encrypter writes', async () => {
    const { identity, recipient } = await generateKeyPair();
    for (const size of [0, CHUNK, CHUNK + 1, 200_000]) {
      const plain = randomBytes(size);
      const sealed: Buffer[] = [];
      await pipeline(Readable.from([plain]), await ageEncryptor({ recipients: [recipient] }), async function* (source) {
        for await (const chunk of source) sealed.push(chunk as Buffer);
      });
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity);
      expect(Buffer.from(await decrypter.decrypt(Buffer.concat(sealed))).equals(plain)).toBe(true);

      const encrypter = new Encrypter();
      encrypter.addRecipient(recipient);
      const theirs = Buffer.from(await encrypter.encrypt(plain));
      expect((await decryptBytes(theirs, ArchiveKeys.ofIdentities([identity]))).equals(plain)).toBe(true);
    }
    // A post-quantum (ML-KEM-768 + X25519) identity: the package unwraps, the payload is ours.
    const hybrid = await generateHybridIdentity();
    const toHybrid = new Encrypter();
    toHybrid.addRecipient(await identityToRecipient(hybrid));
    const secret = randomBytes(CHUNK + 3);
    expect((await decryptBytes(Buffer.from(await toHybrid.encrypt(secret)), await ArchiveKeys.of({ identity: hybrid }))).equals(secret)).toBe(true);

    const encrypter = new Encrypter();
    encrypter.setScryptWorkFactor(12);
    encrypter.setPassphrase('a passphrase');
    const plain = randomBytes(CHUNK * 2);
    expect((await decryptBytes(Buffer.from(await encrypter.encrypt(plain)), await ArchiveKeys.of({ passphrase: 'a passphrase' }))).equals(plain)).toBe(true);
  });
});

describe('refusals: nothing decrypted from a file that is not whole and addressed to the key given', () => {
  async function sealed(size: number): Promise<{ bytes: Buffer; plain: Buffer; identity: string }> {
    const { identity, recipient } = await generateKeyPair();
    const plain = randomBytes(size);
    const out: Buffer[] = [];
    await pipeline(Readable.from([plain]), await ageEncryptor({ recipients: [recipient] }), async function* (source) {
      for await (const chunk of source) out.push(chunk as Buffer);
    });
    return { bytes: Buffer.concat(out), plain, identity };
  }

  it('a wrong identity, a missing key, a wrong passphrase are refused at the header, before any plaintext', async () => {
    const { bytes } = await sealed(3 * CHUNK);
    const other = await generateKeyPair();
    const wrong = await failureOf(decryptBytes(bytes, ArchiveKeys.ofIdentities([other.identity])));
    expect(wrong.reason).toBe('wrong-key');
    expect(wrong.message).toBe('The identity does not open this archive: it was encrypted to other recipients (or to a passphrase)');
    const none = await failureOf(decryptBytes(bytes, null));
    expect(none.reason).toBe('no-key');
    const passphrase = await failureOf(decryptBytes(bytes, await ArchiveKeys.of({ passphrase: 'guess' })));
    expect(passphrase.reason).toBe('wrong-key');
  });

  it('a changed byte anywhere (header, a chunk, the last chunk) and a file cut short (at a chunk boundary or inside one) are refused', async () => {
    const { bytes, identity } = await sealed(3 * CHUNK + 100);
    const keys = ArchiveKeys.ofIdentities([identity]);
    const headerLength = bytes.indexOf('\n--- ') + 1 + bytes.subarray(bytes.indexOf('\n--- ') + 1).indexOf('\n') + 1;
    const payloadStart = headerLength + 16;
    const flip = (at: number) => {
      const copy = Buffer.from(bytes);
      copy[at]! ^= 0x01;
      return copy;
    };
    // In a stanza's body: the file key no longer unwraps, so no identity matches.
    expect((await failureOf(decryptBytes(flip(bytes.indexOf('\n', 30) + 3), keys))).reason).toMatch(/wrong-key|damaged/);
    // The MAC line.
    expect((await failureOf(decryptBytes(flip(headerLength - 5), keys))).reason).toBe('damaged');
    // The nonce, a middle chunk, the last chunk.
    expect((await failureOf(decryptBytes(flip(headerLength + 3), keys))).reason).toBe('damaged');
    const middle = await failureOf(decryptBytes(flip(payloadStart + CHUNK + 16 + 10), keys));
    expect(middle.reason).toBe('damaged');
    expect(middle.message).toContain('chunk 2 does not authenticate');
    expect((await failureOf(decryptBytes(flip(bytes.length - 3), keys))).reason).toBe('truncated');
    // Cut at a chunk boundary: the last chunk left is not flagged as last.
    const atBoundary = await failureOf(decryptBytes(bytes.subarray(0, payloadStart + 2 * (CHUNK + 16)), keys));
    expect(atBoundary.reason).toBe('truncated');
    expect(atBoundary.message).toContain('cut short');
    expect((await failureOf(decryptBytes(bytes.subarray(0, bytes.length - 1), keys))).reason).toBe('truncated');
    expect((await failureOf(decryptBytes(bytes.subarray(0, headerLength - 10), keys))).reason).toBe('truncated');
    expect((await failureOf(decryptBytes(bytes.subarray(0, headerLength + 8), keys))).reason).toBe('truncated');
  });

  it('a file that is not age, and a header past its bound, are refused without reading on', async () => {
    const keys = ArchiveKeys.ofIdentities([(await generateKeyPair()).identity]);
    expect((await failureOf(decryptBytes(Buffer.from('PK\u0003\u0004 a zip'), keys))).reason).toBe('not-age');
    expect((await failureOf(decryptBytes(Buffer.alloc(0), keys))).reason).toBe('not-age');
    const endless = Buffer.concat([Buffer.from('age-encryption.org/v1\n-> X25519 '), Buffer.alloc(2 * 1024 * 1024, 0x41)]);
    const tooLong = await failureOf(decryptBytes(endless, keys));
    expect(tooLong.message).toContain('larger than');
  });

  it('decryptArchiveFile writes a 0600 file only from a whole, authenticated file, within both limits, and removes it otherwise', async () => {
    const dir = tempDir();
    const { bytes, plain, identity } = await sealed(5 * CHUNK);
    const keys = ArchiveKeys.ofIdentities([identity]);
    writeFileSync(join(dir, 'a.age'), bytes);
    const { bytes: written } = await decryptArchiveFile(join(dir, 'a.age'), join(dir, 'a.zip'), keys, { maxCiphertextBytes: bytes.length, maxPlaintextBytes: plain.length });
    expect(written).toBe(plain.length);
    expect(readFileSync(join(dir, 'a.zip')).equals(plain)).toBe(true);
    expect(statSync(join(dir, 'a.zip')).mode & 0o777).toBe(0o600);

    writeFileSync(join(dir, 'cut.age'), bytes.subarray(0, bytes.length - 1000));
    const cut = await decryptArchiveFile(join(dir, 'cut.age'), join(dir, 'cut.zip'), keys, { maxCiphertextBytes: 1e9, maxPlaintextBytes: 1e9 }).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(EncryptedArchiveError);
    expect((cut as EncryptedArchiveError).reason).toBe('truncated');
    expect(existsSync(join(dir, 'cut.zip'))).toBe(false);

    for (const [limits, what] of [
      [{ maxCiphertextBytes: bytes.length - 1, maxPlaintextBytes: 1e9 }, 'encrypted archive'],
      [{ maxCiphertextBytes: 1e9, maxPlaintextBytes: plain.length - 1 }, 'decrypted archive'],
    ] as const) {
      const over = await decryptArchiveFile(join(dir, 'a.age'), join(dir, 'over.zip'), keys, limits).catch((e: unknown) => e);
      expect((over as EncryptedArchiveError).reason).toBe('too-large');
      expect((over as Error).message).toContain(`The ${what} is larger than`);
      expect(existsSync(join(dir, 'over.zip'))).toBe(false);
    }
  });
});

describe('keys: checked without ever quoting a secret', () => {
  it('recipients: X25519 only, checksum checked', async () => {
    const { recipient } = await generateKeyPair();
    expect(recipientBytes(recipient)).toHaveLength(32);
    const changed = `${recipient.slice(0, 20)}${recipient[20] === 'q' ? 'p' : 'q'}${recipient.slice(21)}`;
    expect(() => recipientBytes(changed)).toThrow(/checksum does not match/);
    expect(() => recipientBytes('age1pq1abcdefghijklmnopqrstuvwxyz')).toThrow(/post-quantum or tag recipient/);
    expect(() => recipientBytes('ssh-ed25519 AAAA')).toThrow(AgeKeyError);
  });

  it('identities: identity file text (comments, blank lines), each key checked; errors name the line, never the key', async () => {
    const { identity } = await generateKeyPair();
    expect(await parseIdentities(`# created: now\n# public key: age1…\n\n${identity}\n`)).toEqual([identity]);
    const broken = `${identity.slice(0, 30)}${identity[30] === 'Q' ? 'P' : 'Q'}${identity.slice(31)}`;
    const error = (await parseIdentities(`# a comment\n${broken}`).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('identity (line 2) is not a valid age identity: its checksum or length is wrong (a character was changed or lost)');
    expect(error.message).not.toContain(broken.slice(16, 40));
    const notAKey = (await parseIdentities('my secret words').catch((e: unknown) => e)) as Error;
    expect(notAKey.message).not.toContain('secret words');
    await expect(parseIdentities('# only a comment')).rejects.toThrow(/holds no age identity/);
  });

  it('ArchiveKeys.dispose overwrites what it held', async () => {
    const { identity } = await generateKeyPair();
    const keys = await ArchiveKeys.of({ identity, passphrase: 'words\n' });
    expect(keys!.identities).toEqual([identity]);
    expect(keys!.passphrase).toBe('words');
    keys!.dispose();
    expect(keys!.isEmpty).toBe(true);
    expect(keys!.passphrase).toBeNull();
  });

  it('an identity file AppVault writes for its own key is one age -d takes', async () => {
    if (!present) return;
    const dir = tempDir();
    const { identity, recipient } = await generateKeyPair();
    writeIdentityFile(join(dir, 'k.txt'), identity);
    writeFileSync(join(dir, 'p'), 'x');
    await encryptFile(join(dir, 'p'), join(dir, 'p.age'), { recipients: [recipient] });
    await ageDecryptWithIdentity(join(dir, 'p.age'), join(dir, 'p.out'), join(dir, 'k.txt'));
    expect(readFileSync(join(dir, 'p.out'), 'utf8')).toBe('x');
  });
});
