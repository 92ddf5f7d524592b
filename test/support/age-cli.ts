import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Debian's `age` and `age-keygen` (installed by .ci/run when missing), the independent
 * implementation the encryption tests check AppVault against, both ways.
 */
export const AGE = '/usr/bin/age';
export const AGE_KEYGEN = '/usr/bin/age-keygen';

const run = promisify(execFile);

/** Whether the age CLI is there; with CI=true a missing one fails the run instead of skipping its tests. */
export function ageInstalled(): boolean {
  const present = existsSync(AGE) && existsSync(AGE_KEYGEN);
  if (!present && process.env['CI'] === 'true') throw new Error(`${AGE} is not installed (apt-get install age): with CI=true the encryption tests must run, not skip`);
  if (!present) console.log('SKIP age CLI tests: /usr/bin/age is not installed (apt-get install age)');
  return present;
}

/** A new key pair made by age-keygen: the identity file it wrote, the identity line and its recipient. */
export async function ageKeygen(dir: string, name = 'key.txt'): Promise<{ file: string; identity: string; recipient: string }> {
  const file = join(dir, name);
  await run(AGE_KEYGEN, ['-o', file]);
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(file, 'utf8');
  const identity = text.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-1'))!;
  const recipient = /# public key: (age1\S+)/.exec(text)![1]!;
  return { file, identity, recipient };
}

/** `age -d -i identityFile -o output input`; rejects with age's own words on failure. */
export async function ageDecryptWithIdentity(input: string, output: string, identityFile: string): Promise<void> {
  await run(AGE, ['-d', '-i', identityFile, '-o', output, input]);
}

/** `age -r recipient… -o output input`. */
export async function ageEncryptToRecipients(input: string, output: string, recipients: string[]): Promise<void> {
  await run(AGE, [...recipients.flatMap((recipient) => ['-r', recipient]), '-o', output, input]);
}

/**
 * Runs age under a pseudo-terminal (util-linux `script`), because age reads passphrases only from
 * a terminal, never from a pipe: `script` gives it one and passes what is written to its standard
 * input on as typed keys.
 */
function underTerminal(command: string, typed: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(typed);
  });
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** `age -p`: the passphrase typed twice (entry and confirmation) on a terminal. */
export async function ageEncryptWithPassphrase(input: string, output: string, passphrase: string): Promise<void> {
  const { code, output: said } = await underTerminal(`${AGE} -p -o ${shellQuote(output)} ${shellQuote(input)}`, `${passphrase}\n${passphrase}\n`);
  if (code !== 0 || !existsSync(output)) throw new Error(`age -p failed (${code}): ${said}`);
}

/** `age -d` of a passphrase file: the passphrase typed once on a terminal. */
export async function ageDecryptWithPassphrase(input: string, output: string, passphrase: string): Promise<{ ok: boolean; said: string }> {
  const { code, output: said } = await underTerminal(`${AGE} -d -o ${shellQuote(output)} ${shellQuote(input)}`, `${passphrase}\n`);
  return { ok: code === 0, said };
}

/** Writes an identity file by hand (the format age-keygen writes), for keys AppVault made. */
export function writeIdentityFile(file: string, identity: string): void {
  writeFileSync(file, `# created by a test\n${identity}\n`, { mode: 0o600 });
}
