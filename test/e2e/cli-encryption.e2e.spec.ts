import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageEncryptToRecipients, ageInstalled, ageKeygen } from '../support/age-cli.js';
import { type CliRun, jsonOf, runCli } from '../support/cli-runner.js';
import { buildApp } from '../support/fixtures.js';
import { ADMIN_TOKEN, createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';

let server: TestServer;
const cli = (args: string[]): Promise<CliRun> => runCli(args, { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: ADMIN_TOKEN } });

const present = ageInstalled();

describe.runIf(present)('appvault CLI with encrypted archives', () => {
  let dir: string;
  let key: { file: string; identity: string; recipient: string };
  let other: { file: string; identity: string; recipient: string };
  let sealedId: string;

  beforeAll(async () => {
    server = await startServer();
    dir = tempDir('appvault-cli-age-');
    const cast = await createCast(server, 'shop');
    await buildApp('shop', [cast.owner.client, cast.developer.client], { contents: 10, updates: 5, binaryBytes: 40_000 });
    key = await ageKeygen(dir, 'key.txt');
    other = await ageKeygen(dir, 'other.txt');
    expect((await server.admin.post('/api/apps/shop/recipients', { name: 'ops', recipient: key.recipient })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('backup create --recipient makes a .zip.age; backup download --decrypt --identity leaves the zip only; archive verify takes either', async () => {
    const created = await cli(['backup', 'create', 'shop', '--recipient', 'ops', '--wait', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const backup = jsonOf<{ id: string; encrypted: boolean; sha256: string }>(created);
    expect(backup.encrypted).toBe(true);
    sealedId = backup.id;

    const sealed = join(dir, 'sealed.zip.age');
    const plain = await cli(['backup', 'download', sealedId, '-o', sealed, '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(jsonOf<{ sha256: string }>(plain).sha256).toBe(backup.sha256);

    const zip = join(dir, 'opened.zip');
    const decrypted = await cli(['backup', 'download', sealedId, '-o', zip, '--decrypt', '--identity', key.file]);
    expect(decrypted.code, decrypted.stderr).toBe(0);
    expect(decrypted.stdout).toContain(`Downloaded and decrypted ${zip}`);
    expect(readFileSync(zip).subarray(0, 2).toString('latin1')).toBe('PK');
    expect(existsSync(`${zip}.age`)).toBe(false);
    expect(existsSync(`${zip}.part`)).toBe(false);

    expect((await cli(['archive', 'verify', zip])).code).toBe(0);
    const verified = await cli(['archive', 'verify', sealed, '--identity', key.file, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(jsonOf<{ encrypted: boolean; app: { name: string } }>(verified)).toMatchObject({ encrypted: true, app: { name: 'shop' } });
    const inspected = await cli(['archive', 'inspect', sealed, '--identity', key.file]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('decrypted; encrypted with age');
  });

  it('refuses a missing key, a wrong key and a damaged file with exit code 1, and writes nothing it could not authenticate', async () => {
    const sealed = join(dir, 'sealed.zip.age');
    const none = await cli(['archive', 'verify', sealed]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('pass --identity FILE or --passphrase-file FILE');
    const wrong = await cli(['archive', 'verify', sealed, '--identity', other.file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('The identity does not open this archive');
    const bytes = readFileSync(sealed);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(join(dir, 'damaged.zip.age'), bytes);
    const damaged = await cli(['archive', 'inspect', join(dir, 'damaged.zip.age'), '--identity', key.file]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain('cut short or its end was changed');

    const target = join(dir, 'never.zip');
    const refused = await cli(['backup', 'download', sealedId, '-o', target, '--decrypt', '--identity', other.file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('could not be decrypted');
    expect(existsSync(target)).toBe(false);
    expect(existsSync(`${target}.part`)).toBe(false);
    expect(existsSync(`${target}.age`)).toBe(true);
    const noKey = await cli(['backup', 'download', sealedId, '-o', join(dir, 'nokey.zip'), '--decrypt']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--decrypt needs --identity FILE or --passphrase-file FILE');
  });

  it('backup create --passphrase-out writes the passphrase to a new 0600 file only; --passphrase-file opens it offline and in a restore', async () => {
    const passFile = join(dir, 'pass.txt');
    const created = await cli(['backup', 'create', 'shop', '--passphrase-out', passFile, '--wait', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const passphrase = readFileSync(passFile, 'utf8').trim();
    expect(passphrase).toMatch(/^([a-z2-9]{4}-){7}[a-z2-9]{4}$/);
    expect(statSync(passFile).mode & 0o777).toBe(0o600);
    expect(created.stdout).not.toContain(passphrase);
    expect(created.stderr).not.toContain(passphrase);
    const id = jsonOf<{ id: string }>(created).id;
    const again = await cli(['backup', 'create', 'shop', '--passphrase-out', passFile]);
    expect(again.code).toBe(2);

    const sealed = join(dir, 'pass.zip.age');
    expect((await cli(['backup', 'download', id, '-o', sealed])).code).toBe(0);
    expect((await cli(['archive', 'verify', sealed, '--passphrase-file', passFile])).code).toBe(0);
    const restored = await cli(['restore', '--backup', id, '--name', 'from-pass-cli', '--passphrase-file', passFile, '--follow']);
    expect(restored.code, restored.stderr).toBe(0);
  });

  it('restore --file of an archive the age CLI encrypted, with --identity; --dry-run says it is encrypted', async () => {
    const plain = join(dir, 'opened.zip');
    await ageEncryptToRecipients(plain, join(dir, 'by-age.age'), [other.recipient]);
    const dry = await cli(['restore', '--file', join(dir, 'by-age.age'), '--identity', other.file, '--name', 'from-cli-age', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('encrypted (age)');
    const run = await cli(['restore', '--file', join(dir, 'by-age.age'), '--identity', other.file, '--name', 'from-cli-age', '--follow']);
    expect(run.code, run.stderr).toBe(0);
    const wrong = await cli(['restore', '--file', join(dir, 'by-age.age'), '--identity', key.file, '--name', 'from-cli-age-2', '--follow']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('The identity does not open this archive');
    const notAKey = await cli(['restore', '--file', join(dir, 'by-age.age'), '--identity', plain, '--name', 'x']);
    expect(notAKey.code).toBe(2);
  });

  it('recipient add|list|remove for an app and the installation, and recipient installation prints this server’s own key', async () => {
    const third = await ageKeygen(dir, 'third.txt');
    const added = await cli(['recipient', 'add', 'third', third.recipient, '--app', 'shop']);
    expect(added.code, added.stderr).toBe(0);
    expect((await cli(['recipient', 'add', 'everywhere', other.recipient])).code).toBe(0);
    const listed = jsonOf<{ items: { name: string; scope: string; recipient: string }[] }>(await cli(['recipient', 'list', '--app', 'shop', '--json']));
    expect(listed.items.map((r) => `${r.scope}:${r.name}`)).toEqual(['app:ops', 'app:third', 'installation:everywhere']);
    const broken = await cli(['recipient', 'add', 'broken', `${third.recipient.slice(0, -1)}${third.recipient.endsWith('q') ? 'p' : 'q'}`]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('checksum does not match');
    expect((await cli(['recipient', 'remove', 'third', '--app', 'shop'])).code).toBe(0);
    expect((await cli(['recipient', 'remove', 'third', '--app', 'shop'])).code).toBe(3);
    const own = await cli(['recipient', 'installation']);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout.trim()).toBe((await server.admin.get('/api/installation/recipient')).body.recipient);
  });
});
