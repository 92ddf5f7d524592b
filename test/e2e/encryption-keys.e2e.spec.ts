import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { ageEncryptToRecipients, ageEncryptWithPassphrase, ageInstalled, ageKeygen } from '../support/age-cli.js';
import { startChildServer } from '../support/child-server.js';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { startReplica } from '../support/replica-server.js';
import { ApiClient, tempDir } from '../support/test-server.js';

/** Every file under a folder, recursively, with its bytes. */
function filesUnder(folder: string): { path: string; bytes: Buffer }[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .map((name) => join(folder, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

/** An ApiClient that keeps the text of every answer it gets, event streams included, to be searched afterwards. */
class RecordingClient extends ApiClient {
  readonly answers: string[] = [];

  override async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const answer = await super.request<T>(method, path, body, headers);
    this.answers.push(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    return answer;
  }

  async stream(path: string): Promise<void> {
    const response = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    this.answers.push(await response.text());
  }
}

const present = ageInstalled();

describe.runIf(present)('keys given for encrypted archives stay in the memory of the process that runs the job', () => {
  it('appear in no log line, no file under DATA_DIR (job records included) and no answer, for restores and dry runs that succeed or fail', async () => {
    const dir = tempDir();
    const dataDir = tempDir();
    const key = await ageKeygen(dir);
    const wrong = await generateKeyPair();
    const passphrase = 'velvet-orbit-cinnamon-quarry-42';
    const wrongPassphrase = 'not-the-passphrase-at-all-17';
    const server = await startChildServer(dataDir, { LOG_LEVEL: 'verbose' });
    const admin = new RecordingClient(server.url, server.admin.token);
    try {
      expect((await admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
      expect((await admin.post('/api/apps/shop/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
      for (let i = 0; i < 5; i++) await admin.post('/api/apps/shop/content/notes', { data: { text: `note ${i}` } });
      expect((await admin.post('/api/apps/shop/recipients', { name: 'ops', recipient: key.recipient })).status).toBe(201);
      const plain = await admin.post('/api/apps/shop/backups', {});
      await waitForJob(admin, `/api/apps/shop/backups/${plain.body.id}`);
      writeFileSync(join(dir, 'plain.zip'), (await admin.bytes(`/api/apps/shop/backups/${plain.body.id}/archive`)).bytes);
      await ageEncryptWithPassphrase(join(dir, 'plain.zip'), join(dir, 'pass.age'), passphrase);
      await ageEncryptToRecipients(join(dir, 'plain.zip'), join(dir, 'key.age'), [key.recipient]);

      const sealed = await admin.post('/api/apps/shop/backups', { encryption: { recipients: ['ops'] } });
      await waitForJob(admin, `/api/apps/shop/backups/${sealed.body.id}`);
      const madePassphrase = await admin.post('/api/apps/shop/backups', { encryption: { passphrase: true } });
      const generated = String(madePassphrase.body.passphrase);
      await waitForJob(admin, `/api/apps/shop/backups/${madePassphrase.body.id}`);

      const follow = async (res: { status: number; body: Record<string, unknown> }) => {
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        const done = await waitForJob(admin, `/api/restore/${String(res.body.id)}`);
        await admin.stream(`/api/restore/${String(res.body.id)}/events`);
        return done;
      };
      const upload = (file: string, fields: Record<string, string>, query = '') => {
        const form = fileForm(readFileSync(file), 'x.zip.age', 'application/octet-stream');
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        return admin.post(`/api/restore${query}`, form);
      };

      expect((await follow(await admin.post('/api/restore', { backupId: sealed.body.id, name: 'a1', identity: key.identity }))).status).toBe('Completed');
      expect((await follow(await admin.post('/api/restore', { backupId: sealed.body.id, name: 'a2', identity: wrong.identity }))).status).toBe('Failed');
      expect((await follow(await admin.post('/api/restore', { backupId: madePassphrase.body.id, name: 'a3', passphrase: generated }))).status).toBe('Completed');
      expect((await follow(await upload(join(dir, 'pass.age'), { name: 'a4', passphrase }))).status).toBe('Completed');
      expect((await follow(await upload(join(dir, 'pass.age'), { name: 'a5', passphrase: wrongPassphrase }))).status).toBe('Failed');
      expect((await follow(await upload(join(dir, 'key.age'), { name: 'a6', identity: readFileSync(key.file, 'utf8') }))).status).toBe('Completed');
      expect((await admin.post('/api/restore', { backupId: sealed.body.id, name: 'a7', identity: key.identity, dryRun: true })).body.valid).toBe(true);
      expect((await upload(join(dir, 'key.age'), { name: 'a8', identity: wrong.identity }, '?dryRun=true')).body.valid).toBe(false);
      // Refused requests: a malformed identity, an unknown field beside a passphrase.
      expect((await admin.post('/api/restore', { backupId: sealed.body.id, identity: `${key.identity.slice(0, -2)}QQ` })).status).toBe(400);
      expect((await admin.post('/api/restore', { backupId: sealed.body.id, passphrase, nonsense: true })).status).toBe(400);
      for (const path of ['/api/restore', '/api/backups', '/api/apps/shop/backups']) await admin.get(path);
    } finally {
      await server.stop();
    }

    const secrets = { identity: key.identity, wrongIdentity: wrong.identity, passphrase, wrongPassphrase };
    const logs = server.output();
    expect(logs).toContain('Restore'); // the log was written (verbose), and is what is searched
    const files = filesUnder(dataDir);
    expect(files.some((file) => file.path.endsWith('read.db') || file.path.includes('read'))).toBe(true);
    for (const [what, secret] of Object.entries(secrets)) {
      expect(logs.includes(secret), `${what} in the server's output`).toBe(false);
      for (const answer of admin.answers) expect(answer.includes(secret), `${what} in an answer`).toBe(false);
      for (const file of files) expect(file.bytes.includes(Buffer.from(secret)), `${what} in ${file.path}`).toBe(false);
    }
    // The passphrase the server made for a backup is in the one answer that started it, and nowhere else.
    const generatedAnswers = admin.answers.filter((answer) => /"passphrase":"[a-z2-9-]{39}"/.test(answer));
    expect(generatedAnswers).toHaveLength(1);
    const generated = /"passphrase":"([a-z2-9-]{39})"/.exec(generatedAnswers[0]!)![1]!;
    expect(logs.includes(generated)).toBe(false);
    expect(admin.answers.filter((answer) => answer.includes(generated))).toHaveLength(1);
    for (const file of files) expect(file.bytes.includes(Buffer.from(generated)), `the made passphrase in ${file.path}`).toBe(false);
  });

  it('a process that does not run the projections refuses a restore carrying a key (503), and hands on one the installation’s own key opens', async () => {
    const shared = tempDir('appvault-shared-');
    const projecting = await startReplica(shared);
    const other = await startReplica(shared);
    try {
      expect(projecting.app.get(Projector).projects).toBe(true);
      expect(other.app.get(Projector).projects).toBe(false);
      const dir = tempDir();
      const key = await ageKeygen(dir);
      const admin = other.admin;
      expect((await admin.post('/api/apps', { name: 'shop' })).status).toBe(201);
      expect((await admin.post('/api/recipients', { name: 'ops', recipient: key.recipient })).status).toBe(201);
      const own = (await admin.get('/api/installation/recipient')).body.recipient as string;
      expect((await projecting.admin.get('/api/installation/recipient')).body.recipient).toBe(own);
      expect((await admin.post('/api/recipients', { name: 'self', recipient: own })).status).toBe(201);

      const toKey = await admin.post('/api/apps/shop/backups', { encryption: { recipients: ['ops'] } });
      await waitForJob(admin, `/api/apps/shop/backups/${toKey.body.id}`);
      const refused = await admin.post('/api/restore', { backupId: toKey.body.id, name: 'keyed', identity: key.identity });
      expect(refused.status).toBe(503);
      expect(refused.body.message).toContain('keys are kept only in the memory of the process that receives them');
      const form = fileForm((await admin.bytes(`/api/backups/${toKey.body.id}/archive`)).bytes, 'x.zip.age', 'application/octet-stream');
      form.append('identity', key.identity);
      expect((await admin.post('/api/restore', form)).status).toBe(503);
      expect(existsSync(join(other.dataDir, 'tmp')) ? readdirSync(join(other.dataDir, 'tmp')) : []).toEqual([]);
      expect((await admin.get('/api/restore')).body.total).toBe(0);
      // The projecting process takes it with the key.
      const there = await projecting.admin.post('/api/restore', { backupId: toKey.body.id, name: 'keyed', identity: key.identity });
      expect((await waitForJob(projecting.admin, `/api/restore/${String(there.body.id)}`)).status).toBe('Completed');

      const toSelf = await admin.post('/api/apps/shop/backups', { encryption: { recipients: ['self'] } });
      await waitForJob(admin, `/api/apps/shop/backups/${toSelf.body.id}`);
      const handed = await admin.post('/api/restore', { backupId: toSelf.body.id, name: 'handed' });
      expect(handed.status).toBe(202);
      const done = await waitForJob(admin, `/api/restore/${String(handed.body.id)}`);
      expect(done.status, String(done.error)).toBe('Completed');
      expect((done.log as { message: string }[]).some((line) => line.message.includes('handed to the AppVault process that runs the projections'))).toBe(true);
    } finally {
      await other.close();
      await projecting.close();
    }
  });
});
