import { copyFileSync, createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/archive/age-keys.js';
import { ageEncryptor } from '../../src/archive/age-stream.js';
import { type CliRun, jsonOf, runCli } from '../support/cli-runner.js';
import { buildApp, waitForJob } from '../support/fixtures.js';
import { ADMIN_TOKEN, createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';

let server: TestServer;
const cli = (args: string[]): Promise<CliRun> => runCli(args, { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: ADMIN_TOKEN } });

type Created = { id: string; encrypted: boolean; kind: 'full' | 'incremental'; incremental: boolean; base: string | null; baseArchive: { id: string; events: number } | null; eventCount: number; encryption: { recipients: { recipient: string }[] } | null };

describe('appvault CLI with incremental chains', () => {
  let dir: string;
  let keyFile: string;
  let recipient: string;
  const ids: string[] = [];
  const files: string[] = [];
  let total = 0;

  beforeAll(async () => {
    server = await startServer();
    dir = tempDir('appvault-cli-chain-');
    const cast = await createCast(server, 'shop');
    await buildApp('shop', [cast.owner.client, cast.developer.client], { contents: 10, updates: 5, binaryBytes: 20_000 });
    const pair = await generateKeyPair();
    recipient = pair.recipient;
    keyFile = join(dir, 'key.txt');
    writeFileSync(keyFile, `${pair.identity}\n`, { mode: 0o600 });
    expect((await server.admin.post('/api/apps/shop/recipients', { name: 'ops', recipient })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('backup create --incremental continues an encrypted base, encrypted to the same recipients; archive verify checks the chain offline, from its files or its folder', async () => {
    const full = await cli(['backup', 'create', 'shop', '--recipient', 'ops', '--wait', '--json']);
    expect(full.code, full.stderr).toBe(0);
    ids.push(jsonOf<Created>(full).id);
    expect(jsonOf<Created>(full)).toMatchObject({ kind: 'full', incremental: false, base: null, baseArchive: null });
    total = jsonOf<Created>(full).eventCount;
    for (const round of [1, 2]) {
      expect((await server.admin.post('/api/apps/shop/content/notes', { data: { text: `round ${round}` } })).status).toBe(201);
      const made = await cli(['backup', 'create', 'shop', ...(round === 1 ? ['--incremental'] : ['--incremental', ids[0 + round - 1]!]), '--wait', '--json']);
      expect(made.code, made.stderr).toBe(0);
      const created = jsonOf<Created>(made);
      // Encrypted to the base's recipients though the request named none.
      // `base` is the base's id, as the contract words it; `baseArchive` its details.
      expect(created).toMatchObject({ kind: 'incremental', incremental: true, encrypted: true, base: ids.at(-1), baseArchive: { id: ids.at(-1), events: total }, eventCount: 1 });
      expect(created.encryption!.recipients.map((r) => r.recipient)).toEqual([recipient]);
      ids.push(created.id);
      total += created.eventCount;
    }
    const shown = await cli(['backup', 'show', ids[2]!]);
    expect(shown.stdout).toContain(`incremental: from backup ${ids[1]!} (events after ${total - 1}); increment 2 of the chain from full backup ${ids[0]!}`);
    const listed = await cli(['backup', 'list', 'shop']);
    expect(listed.code, listed.stderr).toBe(0);
    // Each increment's row names the backup it continues (the full one, then the first increment).
    expect(listed.stdout).toContain(`incremental from ${ids[0]!}`);
    expect(listed.stdout).toContain(`incremental from ${ids[1]!}`);
    const folder = join(dir, 'chain');
    mkdirSync(folder);
    for (const [index, id] of ids.entries()) {
      const file = join(folder, `${index}-${id}.zip.age`);
      const downloaded = await cli(['backup', 'download', id, '-o', file]);
      expect(downloaded.code, downloaded.stderr).toBe(0);
      files.push(file);
    }

    const verified = await cli(['archive', 'verify', ...files, '--identity', keyFile, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(jsonOf(verified)).toMatchObject({ valid: true, encrypted: true, links: 3, checkedEvents: total, app: { name: 'shop' } });
    const byFolder = await cli(['archive', 'verify', folder, '--identity', keyFile]);
    expect(byFolder.code, byFolder.stderr).toBe(0);
    expect(byFolder.stdout).toContain('a valid chain of 3 archives');
  });

  it('archive verify refuses an increment without its base, a chain with a link left out, and a base whose stored bytes differ, each by name', async () => {
    const alone = await cli(['archive', 'verify', files[2]!, '--identity', keyFile]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain(`it holds only the events after backup ${ids[1]!}`);

    const gap = await cli(['archive', 'verify', files[0]!, files[2]!, '--identity', keyFile, '--json']);
    expect(gap.code).toBe(1);
    expect(jsonOf<{ reason: string }>(gap).reason).toContain(`The base backup ${ids[1]!} of this incremental is missing`);

    // The same plaintext encrypted again to the same key: it opens, but it is not the base the increment names.
    const plain = join(dir, 'middle.zip');
    expect((await cli(['backup', 'download', ids[1]!, '-o', plain, '--decrypt', '--identity', keyFile])).code).toBe(0);
    const again = join(dir, 'middle-again.zip.age');
    await pipeline(createReadStream(plain), await ageEncryptor({ recipients: [recipient] }), createWriteStream(again));
    const swapped = await cli(['archive', 'verify', files[0]!, again, files[2]!, '--identity', keyFile, '--json']);
    expect(swapped.code).toBe(1);
    expect(jsonOf<{ reason: string }>(swapped).reason).toContain(`The base backup ${ids[1]!} of this incremental (middle-again.zip.age) has been altered: its SHA-256 differs`);

    // Two chains' worth in one folder is refused rather than guessed at.
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    for (const file of [files[0]!, files[1]!]) copyFileSync(file, join(mixed, file.split('/').at(-1)!));
    copyFileSync(again, join(mixed, 'x-again.zip.age'));
    const twoChains = await cli(['archive', 'verify', mixed, '--identity', keyFile]);
    expect(twoChains.code).toBe(1);
    expect(twoChains.stderr).toContain('2 chains');
  });

  it('restores the encrypted chain with the one identity in the request, and refuses it without', async () => {
    const { identity } = { identity: (await import('node:fs')).readFileSync(keyFile, 'utf8').trim() };
    const without = await server.admin.post('/api/restore', { backupId: ids[2], name: 'no-key' });
    expect(without.status).toBe(400);
    const started = await server.admin.post('/api/restore', { backupId: ids[2], name: 'with-key', identity });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await waitForJob(server.admin, `/api/restore/${String(started.body.id)}`);
    expect(job.status, String(job.error)).toBe('Completed');
    expect(job.restoredEvents).toBe(total);
    expect((await server.admin.get('/api/apps/with-key/content/notes')).body.total).toBe(2);
    expect(JSON.stringify(job)).not.toContain(identity);
  });
});
