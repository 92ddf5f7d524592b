import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import {
  ageDecryptWithIdentity,
  ageDecryptWithPassphrase,
  ageEncryptToRecipients,
  ageEncryptWithPassphrase,
  ageInstalled,
  ageKeygen,
} from '../support/age-cli.js';
import { appReads } from '../support/app-reads.js';
import { type BuiltApp, buildApp, fileForm, waitForJob } from '../support/fixtures.js';
import { runCli } from '../support/cli-runner.js';
import { ApiClient, type Cast, createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';
import { readZip } from '../support/zip-inspect.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const AGE_HEADER = 'age-encryption.org/v1\n';

const present = ageInstalled();

describe.runIf(present)('encrypted archives (age), end to end over HTTP, with Debian’s age CLI on the other side', () => {
  let server: TestServer;
  let cast: Cast;
  let built: BuiltApp;
  let dir: string;
  let ops: { file: string; identity: string; recipient: string };
  let stranger: { file: string; identity: string; recipient: string };
  let plainZip: Buffer;

  const apps = async () => ((await server.admin.get('/api/apps')).body.items as { name: string }[]).map((app) => app.name).sort();
  const tmpFiles = () => (existsSync(join(server.dataDir, 'tmp')) ? readdirSync(join(server.dataDir, 'tmp')) : []);
  const backup = async (body: Record<string, unknown>, client = cast.developer.client) => {
    const started = await client.post('/api/apps/shop/backups', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitForJob(client, `/api/apps/shop/backups/${started.body.id}`);
    expect(done.status, String(done.error)).toBe('Completed');
    return { started: started.body as Record<string, unknown>, done };
  };
  const restored = async (res: { status: number; body: Record<string, unknown> }) => {
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return waitForJob(server.admin, `/api/restore/${res.body.id}`);
  };

  beforeAll(async () => {
    dir = tempDir();
    // Restores by URL reach this server through its own download links.
    server = await startServer({ RESTORE_ALLOWED_HOSTS: '127.0.0.1' });
    cast = await createCast(server, 'shop');
    built = await buildApp('shop', [cast.owner.client, cast.developer.client], { contents: 12, updates: 6, binaryBytes: 70_000 });
    ops = await ageKeygen(dir, 'ops.txt');
    stranger = await ageKeygen(dir, 'stranger.txt');
    const plain = await backup({ label: 'plain' });
    plainZip = (await cast.developer.client.bytes(`/api/apps/shop/backups/${plain.done.id}/archive`)).bytes;
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('recipients: Owners configure an app’s, admins the installation’s; Developers see both; unknown names, broken keys and private keys are refused', async () => {
    expect((await cast.developer.client.post('/api/apps/shop/recipients', { name: 'mine', recipient: stranger.recipient })).status).toBe(403);
    const added = await cast.owner.client.post('/api/apps/shop/recipients', { name: 'ops', recipient: ops.recipient });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'ops', recipient: ops.recipient, scope: 'app' });
    expect((await cast.owner.client.post('/api/apps/shop/recipients', { name: 'ops', recipient: stranger.recipient })).status).toBe(409);
    const changed = `${ops.recipient.slice(0, 30)}${ops.recipient[30] === 'q' ? 'p' : 'q'}${ops.recipient.slice(31)}`;
    const broken = await cast.owner.client.post('/api/apps/shop/recipients', { name: 'broken', recipient: changed });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toContain('checksum does not match');
    expect((await cast.owner.client.post('/api/recipients', { name: 'vault', recipient: stranger.recipient })).status).toBe(403);
    expect((await server.admin.post('/api/recipients', { name: 'vault', recipient: stranger.recipient })).status).toBe(201);
    const seen = await cast.developer.client.get('/api/apps/shop/recipients');
    expect(seen.body.items.map((r: { name: string; scope: string }) => `${r.scope}:${r.name}`)).toEqual(['app:ops', 'installation:vault']);

    const changedKey = `${stranger.recipient.slice(0, 30)}${stranger.recipient[30] === 'q' ? 'p' : 'q'}${stranger.recipient.slice(31)}`;
    const unknown = await cast.developer.client.post('/api/apps/shop/backups', { encryption: { recipients: ['ops', 'nobody', (await generateKeyPair()).recipient, changedKey] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('"nobody" is not a recipient configured for app "shop"');
    // A valid key configured nowhere is taken as it is (the shared contract); only the broken one is refused, as a key.
    expect(unknown.body.message).not.toMatch(/age1\S+ is not a recipient configured/);
    expect(unknown.body.message).toContain(`"${changedKey}" is not a valid age public key: is not an age X25519 recipient: its checksum does not match`);
    const secret = await cast.developer.client.post('/api/apps/shop/backups', { encryption: { recipients: [stranger.identity] } });
    expect(secret.status).toBe(400);
    expect(secret.body.message).toContain('one is an age private key (AGE-SECRET-KEY-1…, not shown here); give its public key');
    expect(secret.body.message).not.toContain(stranger.identity.slice(15, 30));
    const both = await cast.developer.client.post('/api/apps/shop/backups', { encryption: { recipients: ['ops'], passphrase: true } });
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('give either recipients or passphrase: true');
  });

  it('an encrypted backup is a .zip.age whose size and SHA-256 are the ciphertext’s; age -d -i gives a zip that `appvault archive verify` accepts', async () => {
    const { started, done } = await backup({ label: 'sealed', encryption: { recipients: ['ops', 'vault'] } });
    expect(started).toMatchObject({ encrypted: true, encryption: { passphrase: false } });
    expect(started['passphrase']).toBeUndefined();
    expect(done.encryption).toEqual({ passphrase: false, recipients: [{ name: 'ops', recipient: ops.recipient }, { name: 'vault', recipient: stranger.recipient }] });
    const download = await cast.developer.client.bytes(`/api/apps/shop/backups/${done.id}/archive`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-disposition')).toMatch(/filename="backup-shop-[\d_-]+\.zip\.age"/);
    expect(download.bytes.subarray(0, AGE_HEADER.length).toString('latin1')).toBe(AGE_HEADER);
    expect(download.bytes.includes(Buffer.from('manifest.json'))).toBe(false);
    expect(download.bytes.length).toBe(done.sizeBytes);
    expect(sha256(download.bytes)).toBe(done.sha256);
    expect(download.headers.get('etag')).toBe(`"${done.sha256}"`);

    writeFileSync(join(dir, 'sealed.zip.age'), download.bytes);
    await ageDecryptWithIdentity(join(dir, 'sealed.zip.age'), join(dir, 'opened.zip'), ops.file);
    const verified = await runCli(['archive', 'verify', join(dir, 'opened.zip')]);
    expect(verified.code, verified.stderr).toBe(0);
    // The same app as the plain backup: the zips hold the same entries.
    const listing = (zip: Buffer) => zip.length > 0 && zip.subarray(0, 2).toString('latin1') === 'PK';
    expect(listing(readFileSync(join(dir, 'opened.zip')))).toBe(true);
    // And the stranger's key opens it too (two recipients), a third key does not.
    await ageDecryptWithIdentity(join(dir, 'sealed.zip.age'), join(dir, 'opened-too.zip'), stranger.file);
    const third = await ageKeygen(dir, 'third.txt');
    await expect(ageDecryptWithIdentity(join(dir, 'sealed.zip.age'), join(dir, 'nope.zip'), third.file)).rejects.toThrow(/no identity matched/);
  });

  it('restores an encrypted stored backup with the identity in the body, and refuses one without it (400) or with a wrong one (Failed, nothing left)', async () => {
    const { done } = await backup({ encryption: { recipients: ['ops'] } });
    const missing = await server.admin.post('/api/restore', { backupId: done.id, name: 'sealed-none' });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain(`Backup ${String(done.id)} is encrypted (to ops); give the identity`);

    const appsBefore = await apps();
    const wrong = await restored(await server.admin.post('/api/restore', { backupId: done.id, name: 'sealed-wrong', identity: stranger.identity }));
    expect(wrong.status).toBe('Failed');
    expect(wrong.error).toBe('The identity does not open this archive: it was encrypted to other recipients (or to a passphrase)');
    expect(await apps()).toEqual(appsBefore);
    expect(tmpFiles()).toEqual([]);
    expect((await server.admin.post('/api/restore', { backupId: done.id, name: 'sealed-wrong', dryRun: true, identity: ops.identity })).body.name.available).toBe(true);

    const dry = await server.admin.post('/api/restore', { backupId: done.id, name: 'sealed-copy', dryRun: true, identity: readFileSync(ops.file, 'utf8') });
    expect(dry.body).toMatchObject({ valid: true, error: null, encrypted: true });
    const job = await restored(await server.admin.post('/api/restore', { backupId: done.id, name: 'sealed-copy', identity: readFileSync(ops.file, 'utf8') }));
    expect(job.status, String(job.error)).toBe('Completed');
    expect((job.log as { message: string }[]).map((line) => line.message)).toContain('The archive is encrypted (age); decrypting it with the key given');
    expect(await appReads(server.admin, 'sealed-copy', built.assets)).toEqual(await appReads(server.admin, 'shop', built.assets));
    expect(tmpFiles()).toEqual([]);
  });

  it('restores uploads that the age CLI encrypted, to a recipient (-r) and with a passphrase (-p, typed on a terminal), given as multipart fields', async () => {
    writeFileSync(join(dir, 'plain.zip'), plainZip);
    await ageEncryptToRecipients(join(dir, 'plain.zip'), join(dir, 'by-recipient.age'), [ops.recipient]);
    await ageEncryptWithPassphrase(join(dir, 'plain.zip'), join(dir, 'by-passphrase.age'), 'horse battery staple correct');
    const upload = (file: string, fields: Record<string, string>) => {
      const form = fileForm(readFileSync(file), 'shop.zip.age', 'application/octet-stream');
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      return server.admin.post('/api/restore', form);
    };
    const byKey = await restored(await upload(join(dir, 'by-recipient.age'), { name: 'from-age-r', identity: ops.identity }));
    expect(byKey.status, String(byKey.error)).toBe('Completed');
    const dry = await upload(join(dir, 'by-passphrase.age'), { name: 'from-age-p', passphrase: 'horse battery staple correct', dryRun: 'true' });
    expect(dry.body).toMatchObject({ valid: true, encrypted: true });
    const byPassphrase = await restored(await upload(join(dir, 'by-passphrase.age'), { name: 'from-age-p', passphrase: 'horse battery staple correct' }));
    expect(byPassphrase.status, String(byPassphrase.error)).toBe('Completed');
    const expected = await appReads(server.admin, 'shop', built.assets);
    expect(await appReads(server.admin, 'from-age-r', built.assets)).toEqual(expected);
    expect(await appReads(server.admin, 'from-age-p', built.assets)).toEqual(expected);

    const before = await apps();
    const wrongPassphrase = await restored(await upload(join(dir, 'by-passphrase.age'), { name: 'from-age-p2', passphrase: 'not it' }));
    expect(wrongPassphrase.error).toBe('The passphrase does not open this archive (or it was encrypted to recipients, not to a passphrase)');
    const noKey = await restored(await upload(join(dir, 'by-recipient.age'), { name: 'from-age-r2' }));
    expect(noKey.error).toContain('The archive is encrypted (age), and not to this installation: give the identity');
    const badKey = await upload(join(dir, 'by-recipient.age'), { name: 'from-age-r3', identity: 'AGE-SECRET-KEY-1NOTAKEY' });
    expect(badKey.status).toBe(400);
    expect(badKey.body.message).toBe('identity is not a valid age identity: its checksum or length is wrong (a character was changed or lost)');
    expect(await apps()).toEqual(before);
    expect(tmpFiles()).toEqual([]);
  });

  it('refuses a tampered and a truncated ciphertext before anything is written, in a dry run and a restore, leaving nothing', async () => {
    writeFileSync(join(dir, 'plain.zip'), plainZip);
    await ageEncryptToRecipients(join(dir, 'plain.zip'), join(dir, 'whole.age'), [ops.recipient]);
    const whole = readFileSync(join(dir, 'whole.age'));
    const tampered = Buffer.from(whole);
    tampered[Math.floor(whole.length / 2)]! ^= 0x40;
    const truncated = whole.subarray(0, whole.length - 4000);
    const before = await apps();
    for (const [bytes, words] of [
      [tampered, 'damaged or was tampered with'],
      [truncated, 'cut short'],
    ] as const) {
      const form = () => {
        const f = fileForm(bytes, 'x.zip.age', 'application/octet-stream');
        f.append('identity', ops.identity);
        f.append('name', 'mangled');
        return f;
      };
      const dry = await server.admin.post('/api/restore?dryRun=true', form());
      expect(dry.body).toMatchObject({ valid: false, encrypted: true, app: null });
      expect(dry.body.error).toContain(words);
      const job = await restored(await server.admin.post('/api/restore', form()));
      expect(job.status).toBe('Failed');
      expect(job.error).toContain(words);
      expect(job.appId).toBeNull();
    }
    expect(await apps()).toEqual(before);
    expect(tmpFiles()).toEqual([]);
  });

  it('migration: a backup to the target’s own recipient travels by link and is restored there by URL without a key in the request', async () => {
    expect((await cast.owner.client.get('/api/installation/recipient')).status).toBe(403);
    const own = await server.admin.get('/api/installation/recipient');
    expect(own.status).toBe(200);
    expect(own.body.recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect((await server.admin.get('/api/installation/recipient')).body.recipient).toBe(own.body.recipient);
    expect((await server.admin.post('/api/recipients', { name: 'target', recipient: own.body.recipient })).status).toBe(201);
    const { done } = await backup({ encryption: { recipients: ['target'] } });
    const link = await cast.developer.client.post(`/api/apps/shop/backups/${done.id}/links`, { expiresIn: '1h' });
    const viaLink = await fetch(link.body.url);
    expect(Buffer.from(await viaLink.arrayBuffer()).subarray(0, AGE_HEADER.length).toString('latin1')).toBe(AGE_HEADER);
    const job = await restored(await server.admin.post('/api/restore', { url: link.body.url, name: 'migrated' }));
    expect(job.status, String(job.error)).toBe('Completed');
    expect((job.log as { message: string }[]).map((line) => line.message)).toContain('The archive is encrypted (age); decrypting it with this installation’s own key');
    expect(await appReads(server.admin, 'migrated', built.assets)).toEqual(await appReads(server.admin, 'shop', built.assets));
  });

  it('two installations: the source backs up to the target’s key as given (configured nowhere), by hand and by policy; the target restores it with no key', async () => {
    const target = await startServer();
    try {
      const key = (await target.admin.get('/api/installation/recipient')).body.recipient as string;
      expect((await cast.developer.client.get('/api/apps/shop/recipients')).body.items.map((r: { recipient: string }) => r.recipient)).not.toContain(key);
      const { started, done } = await backup({ encryption: { recipients: [key, 'ops'] } });
      expect(started['encryption']).toEqual({ passphrase: false, recipients: [{ name: null, recipient: key }, { name: 'ops', recipient: ops.recipient }] });
      expect(done.encryption).toEqual(started['encryption']);
      // Nothing secret in the record: public keys only.
      expect(JSON.stringify(done)).not.toMatch(/AGE-SECRET-KEY/);

      const archive = (await cast.developer.client.bytes(`/api/apps/shop/backups/${done.id}/archive`)).bytes;
      const form = fileForm(archive, 'shop.zip.age', 'application/octet-stream');
      form.append('name', 'moved');
      const job = await target.admin.post('/api/restore', form);
      expect(job.status, JSON.stringify(job.body)).toBe(202);
      const finished = await waitForJob(target.admin, `/api/restore/${job.body.id}`);
      expect(finished.status, String(finished.error)).toBe('Completed');
      expect((finished.log as { message: string }[]).map((line) => line.message)).toContain('The archive is encrypted (age); decrypting it with this installation’s own key');
      expect(await appReads(target.admin, 'moved', built.assets)).toEqual(await appReads(server.admin, 'shop', built.assets));

      const policy = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', encryption: { recipients: [key] } });
      expect(policy.status, JSON.stringify(policy.body)).toBe(200);
      expect(policy.body.encryption).toEqual({ recipients: [key] });
      const brokenPolicy = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', encryption: { recipients: [`${key.slice(0, -1)}${key.endsWith('q') ? 'p' : 'q'}`] } });
      expect(brokenPolicy.status).toBe(400);
      expect(brokenPolicy.body.message).toContain('is not a valid age public key');
      expect((await cast.developer.client.delete('/api/apps/shop/backup-policy')).status).toBe(204);
    } finally {
      await target.close();
    }
  });

  it('a backup with a passphrase: made by the server, answered once, opened by age -d on a terminal and by a restore', async () => {
    const { started, done } = await backup({ encryption: { passphrase: true } }, cast.owner.client);
    const passphrase = String(started['passphrase']);
    expect(passphrase).toMatch(/^([a-z2-9]{4}-){7}[a-z2-9]{4}$/);
    expect(done['passphrase']).toBeUndefined();
    expect(done.encryption).toEqual({ recipients: [], passphrase: true });
    expect(JSON.stringify((await cast.owner.client.get('/api/apps/shop/backups')).body)).not.toContain(passphrase);
    const download = await cast.owner.client.bytes(`/api/apps/shop/backups/${done.id}/archive`);
    writeFileSync(join(dir, 'pass.zip.age'), download.bytes);
    const opened = await ageDecryptWithPassphrase(join(dir, 'pass.zip.age'), join(dir, 'pass.zip'), passphrase);
    expect(opened.ok, opened.said).toBe(true);
    expect((await runCli(['archive', 'verify', join(dir, 'pass.zip')])).code).toBe(0);
    const job = await restored(await server.admin.post('/api/restore', { backupId: done.id, name: 'from-passphrase', passphrase }));
    expect(job.status, String(job.error)).toBe('Completed');
  });

  it('policies name recipients, never a passphrase; their copies in a repository are .zip.age without the archive’s manifest beside them, and restore from there', async () => {
    const refused = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', encryption: { passphrase: true } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('a policy cannot encrypt with a passphrase');
    const unknown = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', encryption: { recipients: ['nobody'] } });
    expect(unknown.status).toBe(400);
    const set = await cast.developer.client.put('/api/apps/shop/backup-policy', { schedule: '0 3 * * *', encryption: { recipients: ['ops'] } });
    expect(set.status).toBe(200);
    expect(set.body.encryption).toEqual({ recipients: ['ops'] });

    const folder = join(tempDir(), 'offsite');
    mkdirSync(folder);
    expect((await server.admin.post('/api/repositories', { name: 'offsite', type: 'filesystem', path: folder })).status).toBe(201);
    const { done } = await backup({ encryption: { recipients: ['ops'] }, repositories: ['local', 'offsite'] });
    const copy = (done.copies as { repository: string; key: string; sha256: string }[]).find((c) => c.repository === 'offsite')!;
    expect(copy.key).toBe(`appvault/shop/${String(done.id)}.zip.age`);
    expect(copy.sha256).toBe(done.sha256);
    const manifest = JSON.parse(readFileSync(join(folder, 'appvault', 'shop', `${String(done.id)}.copy.json`), 'utf8'));
    expect(manifest.encrypted).toBe(true);
    expect(manifest.manifest).toBeUndefined();
    const listed = (await server.admin.get('/api/repositories/offsite/backups')).body.items.find((item: { key: string }) => item.key === copy.key);
    expect(listed).toMatchObject({ encrypted: true, error: null, sha256: done.sha256 });
    const job = await restored(await server.admin.post('/api/restore', { repository: 'offsite', key: copy.key, name: 'from-offsite', identity: ops.identity }));
    expect(job.status, String(job.error)).toBe('Completed');
  });

  it('credentials: an admin’s encrypted backup keeps its users signed in on another installation; never in a plain archive, a policy or a non-admin’s backup', async () => {
    const forbidden = await cast.owner.client.post('/api/apps/shop/backups', { include: { credentials: true }, encryption: { recipients: ['ops'] } });
    expect(forbidden.status).toBe(403);
    const plain = await server.admin.post('/api/apps/shop/backups', { include: { credentials: true } });
    expect(plain.status).toBe(400);
    expect(plain.body.message).toContain('go only into an encrypted archive');
    const policy = await server.admin.put('/api/apps/shop/backup-policy', { schedule: '0 4 * * *', include: { credentials: true }, encryption: { recipients: ['ops'] } });
    expect(policy.status).toBe(400);

    const { done } = await backup({ include: { credentials: true }, encryption: { recipients: ['ops'] } }, server.admin);
    expect(done).toMatchObject({ credentials: true, partial: false, include: null, encrypted: true });
    writeFileSync(join(dir, 'creds.zip.age'), (await server.admin.bytes(`/api/backups/${done.id}/archive`)).bytes);
    await ageDecryptWithIdentity(join(dir, 'creds.zip.age'), join(dir, 'creds.zip'), ops.file);
    const entries = await readZip(join(dir, 'creds.zip'));
    const credentials = JSON.parse(entries.get('credentials.json')!.toString('utf8')) as { id: string; keyHash: string }[];
    // Every user users.json names has a key in the cast (the admin who made the app too).
    const archivedUsers = JSON.parse(entries.get('users.json')!.toString('utf8')) as { id: string }[];
    expect(credentials.map((c) => c.id).sort()).toEqual(archivedUsers.map((u) => u.id).sort());
    expect(credentials.map((c) => c.id)).toEqual(expect.arrayContaining([cast.owner.id, cast.developer.id]));
    expect(credentials.every((c) => /^[0-9a-f]{64}$/.test(c.keyHash))).toBe(true);
    expect(entries.get('users.json')!.toString('utf8')).not.toContain('keyHash');
    expect((await runCli(['archive', 'verify', join(dir, 'creds.zip')])).code).toBe(0);

    // Another installation, where nobody of the archive exists yet.
    const target = await startServer();
    try {
      const upload = (file: string, fields: Record<string, string>) => {
        const form = fileForm(readFileSync(file), 'creds.zip.age', 'application/octet-stream');
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        return target.admin.post('/api/restore', form);
      };
      const started = await upload(join(dir, 'creds.zip.age'), { name: 'shop', identity: ops.identity });
      const job = await waitForJob(target.admin, `/api/restore/${String(started.body.id)}`);
      expect(job.status, String(job.error)).toBe('Completed');
      expect((job.log as { message: string }[]).some((line) => line.message.includes(`0 created without API keys, ${credentials.length} created with the API key they had`))).toBe(true);
      const developer = new ApiClient(target.url, cast.developer.client.token);
      expect((await developer.get('/api/users/me')).body.email).toBe('dev@example.com');
      expect((await developer.get('/api/apps/shop/schemas')).status).toBe(200);
      // The plain zip of the same archive: its credentials are not used.
      const again = await upload(join(dir, 'creds.zip'), { name: 'shop-plain' });
      expect((await waitForJob(target.admin, `/api/restore/${String(again.body.id)}`)).status).toBe('Completed');
    } finally {
      await target.close();
    }
    const third = await startServer();
    try {
      const form = fileForm(readFileSync(join(dir, 'creds.zip')), 'creds.zip', 'application/zip');
      const started = await third.admin.post('/api/restore', form);
      const job = await waitForJob(third.admin, `/api/restore/${String(started.body.id)}`);
      expect(job.status, String(job.error)).toBe('Completed');
      expect((job.log as { message: string }[]).map((line) => line.message)).toContain(
        'The archive holds credentials.json, but it was not encrypted: its key hashes are not used, and the users it creates have no API keys',
      );
      expect((await new ApiClient(third.url, cast.developer.client.token).get('/api/users/me')).status).toBe(401);
    } finally {
      await third.close();
    }
  });
});
