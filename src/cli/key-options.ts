import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import type { ChainLink } from '../archive/archive-chain.js';
import { CliError, ExitCode } from './exit-codes.js';
import { withScratchFolder } from './scratch-folders.js';

/**
 * `--identity FILE` and `--passphrase-file FILE`: what opens an encrypted archive (age), from
 * files, never from the command line (which `ps` and shell history keep). The keys go to the
 * server in the request body of a restore, or open an archive here for the offline commands and
 * `backup download --decrypt`; they are never printed.
 */
export interface KeyOptions {
  identity?: string;
  passphraseFile?: string;
}

/** Adds both options to a command. */
export function withKeyOptions(command: Command): Command {
  return command
    .option('--identity <file>', 'an age identity file (AGE-SECRET-KEY-1…, as age-keygen writes it) that opens an encrypted archive')
    .option('--passphrase-file <file>', 'a file holding the passphrase an encrypted archive was made with (its first line)');
}

/** A key file's text: small, readable, and never quoted in a message. */
async function keyFile(path: string, what: string): Promise<string> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new CliError(`${what} ${path} is not a file`, ExitCode.usage);
    if (info.size > 64 * 1024) throw new CliError(`${what} ${path} is larger than 64 KiB; it is not a key file`, ExitCode.usage);
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`Cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, ExitCode.usage);
  }
}

/** The texts the options name, for a request body or multipart fields; the passphrase is its file's first line. */
export async function keyTexts(options: KeyOptions): Promise<{ identity?: string; passphrase?: string }> {
  const texts: { identity?: string; passphrase?: string } = {};
  if (options.identity !== undefined) texts.identity = await keyFile(options.identity, 'the identity file');
  if (options.passphraseFile !== undefined) texts.passphrase = (await keyFile(options.passphraseFile, 'the passphrase file')).split(/\r?\n/)[0] ?? '';
  return texts;
}

/**
 * Decrypts the age file `file` into `target` (mode 0600) with the keys the options name, every
 * chunk authenticated before it is written; a wrong key, a changed byte or a cut file leaves no
 * `target` and is an EncryptedArchiveError (an InvalidArchiveError, as for any archive that fails
 * a check). A key file that is not one is a usage error.
 */
export async function decryptWithOptions(file: string, target: string, options: KeyOptions): Promise<{ bytes: number }> {
  const { decryptArchiveFile, EncryptedArchiveError } = await import('../archive/archive-decryption.js');
  const { ArchiveKeys, AgeKeyError } = await import('../archive/age-keys.js');
  let keys;
  try {
    keys = await ArchiveKeys.of(await keyTexts(options), { identity: `the identity file ${options.identity ?? ''}`, passphrase: `the passphrase file ${options.passphraseFile ?? ''}` });
  } catch (error) {
    if (error instanceof AgeKeyError) throw new CliError(error.message, ExitCode.usage);
    throw error;
  }
  try {
    return await decryptArchiveFile(file, target, keys, { maxCiphertextBytes: Number.MAX_SAFE_INTEGER, maxPlaintextBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (error instanceof EncryptedArchiveError && error.reason === 'no-key') {
      throw new EncryptedArchiveError('no-key', 'The archive is encrypted (age); pass --identity FILE or --passphrase-file FILE with the key it was encrypted to');
    }
    throw error;
  } finally {
    keys?.dispose();
  }
}

/**
 * Runs `work` on the plain zip: `file` itself, or, when it is encrypted (age), its decryption into
 * a temporary folder of this process's own (mode 0700; the file 0600), removed afterwards whatever
 * happens, or when a signal stops the command (scratch-folders.ts).
 */
export async function withPlainArchive<T>(file: string, options: KeyOptions, work: (plain: string, encrypted: boolean) => Promise<T>): Promise<T> {
  const { isAgeFile } = await import('../archive/archive-decryption.js');
  if (!(await isAgeFile(file))) return work(file, false);
  return withScratchFolder('appvault-decrypted-', async (folder) => {
    const plain = join(folder, 'archive.zip');
    await decryptWithOptions(file, plain, options);
    return work(plain, true);
  });
}

/**
 * withPlainArchive for the archives of an incremental chain (base first): each decrypted in turn
 * when encrypted, `work` then gets their plain zips with the SHA-256 of each file as given (as it
 * was stored: the `.zip.age` file for an encrypted one), which the increments name their bases by.
 */
export async function withPlainChain<T>(files: readonly string[], options: KeyOptions, work: (links: ChainLink[], encrypted: boolean) => Promise<T>): Promise<T> {
  const { fileSha256 } = await import('../archive/archive-chain.js');
  const links: ChainLink[] = [];
  let allEncrypted = true;
  const next = async (index: number): Promise<T> => {
    const file = files[index];
    if (file === undefined) return work(links, allEncrypted);
    const storedSha256 = await fileSha256(file);
    return withPlainArchive(file, options, async (plain, encrypted) => {
      links.push({ file: plain, storedSha256, label: basename(file) });
      allEncrypted &&= encrypted;
      return next(index + 1);
    });
  };
  return next(0);
}
