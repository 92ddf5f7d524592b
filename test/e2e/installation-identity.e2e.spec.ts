import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import { ageEncryptToRecipients, ageInstalled, ageKeygen } from '../support/age-cli.js';
import { freePort, startChildServer } from '../support/child-server.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { ADMIN_TOKEN, tempDir } from '../support/test-server.js';

/** Every file under a folder, recursively, with its bytes. */
function bytesUnder(folder: string): Buffer[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .map((name) => join(folder, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => readFileSync(path));
}

/** Starts the compiled server and waits for it to exit at start-up; its exit code and output. */
async function refusedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], { env: { ...process.env, DATA_DIR: tempDir(), PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (exit) => resolve(exit)));
  clearTimeout(timer);
  return { code, output };
}

describe.runIf(ageInstalled())('AGE_IDENTITY_FILE: the installation’s own key from a file, kept out of its data', () => {
  it('serves the file’s recipient, opens archives the age CLI encrypted to it without a key in the request, and stores the key nowhere under DATA_DIR', async () => {
    const dir = tempDir();
    const dataDir = tempDir();
    const key = await ageKeygen(dir);
    chmodSync(key.file, 0o600);
    const source = await startChildServer(tempDir());
    const server = await startChildServer(dataDir, { AGE_IDENTITY_FILE: key.file });
    try {
      // A plain archive from another installation, encrypted with the age CLI to this one's recipient.
      expect((await source.admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
      expect((await source.admin.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
      for (let i = 0; i < 4; i++) expect((await source.admin.post('/api/apps/shop/content/notes', { data: { text: `note ${i}` } })).status).toBe(201);
      const made = await source.admin.post('/api/apps/shop/backups', {});
      await waitForJob(source.admin, `/api/apps/shop/backups/${made.body.id}`);
      writeFileSync(join(dir, 'shop.zip'), (await source.admin.bytes(`/api/apps/shop/backups/${made.body.id}/archive`)).bytes);

      const own = await server.admin.get('/api/installation/recipient');
      expect(own.status).toBe(200);
      expect(own.body.recipient).toBe(key.recipient);
      await ageEncryptToRecipients(join(dir, 'shop.zip'), join(dir, 'shop.zip.age'), [own.body.recipient as string]);

      const form = fileForm(readFileSync(join(dir, 'shop.zip.age')), 'shop.zip.age', 'application/octet-stream');
      form.append('name', 'shop-here');
      const started = await server.admin.post('/api/restore', form);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const job = await waitForJob(server.admin, `/api/restore/${started.body.id}`);
      expect(job['status'], String(job['error'])).toBe('Completed');
      const notes = await server.admin.get('/api/apps/shop-here/content/notes');
      expect(notes.body.total ?? notes.body.items.length).toBe(4);

      // The identity came from the file: it is in no file the installation keeps (read.db included).
      const secret = Buffer.from(key.identity);
      expect(bytesUnder(dataDir).some((bytes) => bytes.includes(secret))).toBe(false);
      expect(server.output()).not.toContain(key.identity);
    } finally {
      await server.stop();
      await source.stop();
    }
  }, 120_000);

  it('warns (without refusing) when the file can be read by other users', async () => {
    const dir = tempDir();
    const key = await ageKeygen(dir);
    chmodSync(key.file, 0o644);
    const server = await startChildServer(tempDir(), { AGE_IDENTITY_FILE: key.file });
    try {
      expect((await server.admin.get('/api/installation/recipient')).body.recipient).toBe(key.recipient);
      expect(server.output()).toContain(`AGE_IDENTITY_FILE (${key.file}) can be read by other users of this machine (mode 644); chmod 600 it`);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('refuses to start (exit 78) on a file that is missing, a folder, not an identity, two identities or none, naming the file and never its text', async () => {
    const dir = tempDir();
    const one = await generateKeyPair();
    const two = await generateKeyPair();
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const cases: [string, string, string][] = [
      [join(dir, 'absent.txt'), 'cannot be read: ENOENT', ''],
      [folder, 'is not a file', ''],
      [write('garbage.txt', 'AGE-SECRET-KEY-1NOTAKEY\n'), 'is not usable: the file (line 1) is not a valid age identity', 'AGE-SECRET-KEY-1NOTAKEY'],
      [write('public.txt', `${one.recipient}\n`), 'is not usable: the file (line 1) is not an age identity', one.recipient],
      [write('two.txt', `# first\n${one.identity}\n# second\n${two.identity}\n`), 'holds 2 identities', one.identity],
      [write('empty.txt', '# nothing here\n'), 'is not usable: the file holds no age identity', ''],
    ];
    for (const [file, message, secret] of cases) {
      const { code, output } = await refusedStart({ AGE_IDENTITY_FILE: file });
      expect(code, output).toBe(78);
      expect(output).toContain(`Invalid configuration: AGE_IDENTITY_FILE (${file}) ${message}`);
      if (secret) expect(output).not.toContain(secret);
    }
  }, 120_000);
});
