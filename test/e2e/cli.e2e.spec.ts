import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putTogether, takeApart } from '../support/archive-forge.js';
import { buildApp } from '../support/fixtures.js';
import { ADMIN_TOKEN, createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';
import { tamper } from '../support/zip-tamper.js';
import { readZip } from '../support/zip-inspect.js';
import { freePort } from '../support/child-server.js';
import { type CliRun, jsonOf, ROOT, runCli } from '../support/cli-runner.js';
import { DEFAULT_HEAP_GROWING_PERCENT, MAX_HEAP_GROWING_PERCENT } from '../../src/platform/heap/heap-growth.js';

/** The CLI as its own process (test/support/cli-runner.ts) against the real server on a real port. */
const cli = (args: string[], env: Record<string, string> = {}, launcher?: string): Promise<CliRun> =>
  runCli(args, { env: { APPVAULT_URL: server.url, APPVAULT_TOKEN: ADMIN_TOKEN, ...env }, launcher });

const json = jsonOf;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');


let server: TestServer;

describe('appvault CLI', () => {
  let dir: string;
  let first: { id: string; sha256: string; eventCount: number };
  let firstZip: string;
  /** The Range header of every archive request the server receives, in order. */
  const archiveRequests: { url: string; range: string | undefined }[] = [];

  beforeAll(async () => {
    server = await startServer();
    dir = tempDir('appvault-cli-');
    server.app.getHttpServer().on('request', (req: IncomingMessage) => {
      if (req.url?.endsWith('/archive')) archiveRequests.push({ url: req.url, range: req.headers.range });
    });
    const cast = await createCast(server, 'shop');
    await buildApp('shop', [cast.owner.client, cast.developer.client, cast.editor.client], { contents: 30, updates: 20, binaryBytes: 50_000 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('lists the apps as one JSON document', async () => {
    const run = await cli(['apps', 'list', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const body = json<{ total: number; items: { name: string }[] }>(run);
    expect(body.items.map((a) => a.name)).toEqual(['shop']);
    expect(body.total).toBe(1);
  });

  it('creates a backup, waits for it and downloads it; the file is the backup', async () => {
    firstZip = join(dir, 'first.zip');
    const run = await cli(['backup', 'create', 'shop', '--label', 'from the cli', '--download', firstZip, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const body = json<{ backup: { id: string; status: string; label: string }; download: { file: string; sha256: string; bytes: number } }>(run);
    expect(body.backup.status).toBe('Completed');
    expect(body.backup.label).toBe('from the cli');
    const stored = (await server.admin.get(`/api/backups/${body.backup.id}`)).body;
    expect(sha256(firstZip)).toBe(stored.sha256);
    expect(statSync(firstZip).size).toBe(stored.sizeBytes);
    expect(body.download).toMatchObject({ file: firstZip, sha256: stored.sha256, bytes: stored.sizeBytes });
    first = { id: stored.id, sha256: stored.sha256, eventCount: stored.eventCount };
    // Without --json the progress went to stderr, never to stdout.
    expect(run.stderr).toMatch(/download shop/);
  });

  it('lists backups of one app and of every app (admin), every page', async () => {
    const ofApp = await cli(['backup', 'list', 'shop', '--json']);
    expect(ofApp.code, ofApp.stderr).toBe(0);
    const listed = json<{ total: number; items: { id: string }[] }>(ofApp);
    expect(listed.items.map((b) => b.id)).toContain(first.id);
    expect(listed.items).toHaveLength(listed.total);

    const all = await cli(['--json', 'backup', 'list']);
    expect(all.code, all.stderr).toBe(0);
    expect(json<{ items: { id: string }[] }>(all).items.map((b) => b.id)).toContain(first.id);

    const human = await cli(['backup', 'list', 'shop']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(first.id);
    expect(human.stdout).toMatch(/^ID\s+APP\s+STATUS/);
  });

  it('shows a backup by id, and through its app with --app', async () => {
    const byId = await cli(['backup', 'show', first.id, '--json']);
    expect(byId.code, byId.stderr).toBe(0);
    expect(json(byId)).toMatchObject({ id: first.id, status: 'Completed', sha256: first.sha256 });
    const viaApp = await cli(['backup', 'show', first.id, '--app', 'shop']);
    expect(viaApp.code, viaApp.stderr).toBe(0);
    expect(viaApp.stdout).toContain(`sha256:   ${first.sha256}`);
  });

  it('resumes a broken download with Range and ends with the right bytes', async () => {
    const file = join(dir, 'resumed.zip');
    // What a broken download leaves: the first half in <file>.part, nothing at <file> yet.
    const part = `${file}.part`;
    copyFileSync(firstZip, part);
    const size = statSync(part).size;
    const half = Math.floor(size / 2);
    truncateSync(part, half);
    // Bytes that would be wrong if they were kept: the check at the end must catch any mix-up.
    const seen = archiveRequests.length;
    const run = await cli(['backup', 'download', first.id, '-o', file, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(sha256(file)).toBe(first.sha256);
    expect(statSync(file).size).toBe(size);
    // The CLI asked for the rest of the file, and said what happened.
    const sent = archiveRequests.slice(seen);
    expect(sent[0]?.range).toBe(`bytes=${half}-`);
    // The server answered 206 and the CLI appended only the rest.
    const result = json<{ resumed: boolean; restarted: boolean }>(run);
    expect(result).toMatchObject({ resumed: true, restarted: false });
    expect(sent).toHaveLength(1);
    expect(run.stderr).toMatch(`resuming at ${half}`);
    // The checked archive took its name; no .part is left.
    expect(existsSync(part)).toBe(false);
  });

  it('never replaces a file without --force; one that is the archive already is only checked', async () => {
    const seen = archiveRequests.length;
    const again = await cli(['backup', 'download', first.id, '-o', firstZip]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Already downloaded /);
    expect(archiveRequests.length).toBe(seen);

    const mine = join(dir, 'mine.zip');
    writeFileSync(mine, 'not an archive');
    const refused = await cli(['backup', 'download', first.id, '-o', mine]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${mine} exists and is not the archive of backup ${first.id}; pass --force to replace it`);
    expect(readFileSync(mine, 'utf8')).toBe('not an archive');
    expect(existsSync(`${mine}.part`)).toBe(false);
    const forced = await cli(['backup', 'download', first.id, '-o', mine, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(json(forced)).toMatchObject({ file: mine, replaced: true, sha256: first.sha256 });
    expect(sha256(mine)).toBe(first.sha256);
  });

  it('refuses `..` as an id: the route would climb from the backup to its app (exit 2, nothing deleted)', async () => {
    const run = await cli(['backup', 'delete', '..', '--app', 'shop']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('".." is not an app name or an id');
    expect((await server.admin.get('/api/apps/shop')).status).toBe(200);
  });

  it('fails a download whose bytes do not match the backup (exit 1), and says what to do', async () => {
    const file = join(dir, 'corrupt.zip');
    const bytes = readFileSync(firstZip);
    // Same length, one byte flipped in the first half: whatever the server does with Range, the file is wrong.
    const flipped = Buffer.from(bytes);
    flipped[10] = flipped[10]! ^ 0xff;
    writeFileSync(`${file}.part`, flipped.subarray(0, Math.floor(bytes.length / 2)));
    const run = await cli(['backup', 'download', first.id, '-o', file]);
    expect(run.stderr).toContain('resuming at');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match the SHA-256 of backup .*delete the file and download it again/);
    // Bytes that do not match never get the archive's name.
    expect(existsSync(file)).toBe(false);
  });

  it('makes a download link that serves the archive without a key (where the server has links)', async () => {
    const run = await cli(['backup', 'link', first.id, '--expires', '1h', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const link = json<{ url: string; expires: string }>(run);
    expect(Date.parse(link.expires) - Date.now()).toBeGreaterThan(50 * 60 * 1000);
    const download = await fetch(link.url);
    expect(download.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await download.arrayBuffer())).digest('hex')).toBe(first.sha256);
    const human = await cli(['backup', 'link', first.id, '--app', 'shop', '--expires', '15m']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^https?:\/\/\S+\n$/);
  });

  it('restores a stored backup under a new name and follows it to the end', async () => {
    const run = await cli(['restore', '--backup', first.id, '--name', 'copy', '--follow', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const job = json<{ status: string; name: string; restoredEvents: number }>(run);
    expect(job).toMatchObject({ status: 'Completed', name: 'copy', restoredEvents: first.eventCount });
    const app = await server.admin.get('/api/apps/copy');
    expect(app.status).toBe(200);
    // Progress went to stderr as plain lines (not a terminal), one per change.
    expect(run.stderr).toMatch(/^restore [0-9a-f]{8}…: /m);
    // It followed the job's event stream where the server has one, and polled where it answers 404.
    const events = await fetch(`${server.url}/api/restore/${json<{ id: string }>(run).id}/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await events.body?.cancel();
    expect(events.status).toBe(200);
    expect(run.stderr).not.toMatch(/reading the job every 500 ms/);
  });

  it('migrates an app to another installation: a link from this one, restore --url on the other', async () => {
    const target = await startServer({ RESTORE_ALLOWED_HOSTS: '127.0.0.1' });
    try {
      const link = await cli(['backup', 'link', first.id, '--expires', '10m']);
      expect(link.code, link.stderr).toBe(0);
      const url = link.stdout.trim();
      const run = await cli(['--url', target.url, 'restore', '--url', url, '--name', 'migrated', '--follow', '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(json<{ status: string; restoredEvents: number }>(run)).toMatchObject({ status: 'Completed', restoredEvents: first.eventCount });
      const there = await target.admin.get('/api/apps/migrated/content/products?top=1000');
      const here = await server.admin.get('/api/apps/shop/content/products?top=1000');
      expect(there.body.items.map((c: { id: string; data: unknown }) => [c.id, c.data])).toEqual(here.body.items.map((c: { id: string; data: unknown }) => [c.id, c.data]));
    } finally {
      await target.close();
    }
  });

  it('deletes a backup, and says so when it is gone', async () => {
    const created = await cli(['backup', 'create', 'shop', '--label', 'to delete', '--wait', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { id } = json<{ id: string }>(created);
    const run = await cli(['backup', 'delete', id]);
    expect(run.code, run.stderr).toBe(0);
    expect((await server.admin.get(`/api/backups/${id}`)).status).toBe(404);
    const again = await cli(['backup', 'delete', id]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`Backup ${id} does not exist`);
  });

  it('uploads an archive file for a restore, streamed, with upload progress', async () => {
    const run = await cli(['restore', '--file', firstZip, '--name', 'uploaded', '--follow']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Restored app uploaded \(/);
    expect(run.stderr).toMatch(/^upload: uploading .*\(100%\)$/m);
    const restores = (await server.admin.get('/api/restore')).body.items as { name: string; source: string; status: string; restoredEvents: number }[];
    expect(restores.find((r) => r.name === 'uploaded')).toMatchObject({ source: 'upload:first.zip', status: 'Completed', restoredEvents: first.eventCount });
    expect((await server.admin.get('/api/apps/uploaded/content/products?top=1')).body.total).toBe((await server.admin.get('/api/apps/shop/content/products?top=1')).body.total);
  });

  it('restores a point in time, and lists and shows restores', async () => {
    const run = await cli(['restore', '--backup', first.id, '--name', 'early', '--until-event', '5', '--follow', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const job = json<{ id: string; restoredEvents: number }>(run);
    expect(job.restoredEvents).toBe(5);
    const list = await cli(['restore', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(json<{ items: { id: string }[] }>(list).items.map((r) => r.id)).toContain(job.id);
    const show = await cli(['restore', 'show', job.id, '--log']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('Restore completed');
  });

  describe('exit codes', () => {
    it('2 for usage errors: an unknown option, a missing source, a bad value', async () => {
      const unknown = await cli(['apps', 'list', '--frobnicate']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
      const noSource = await cli(['restore', '--name', 'x']);
      expect(noSource.code).toBe(2);
      expect(noSource.stderr).toMatch(/--file <zip>, --url <url>, --backup <id> or --from-repository <name> --key <key>/);
      const badValue = await cli(['restore', '--backup', first.id, '--until-event', 'soon']);
      expect(badValue.code).toBe(2);
      expect(badValue.stderr).toMatch(/--until-event/);
      const both = await cli(['restore', '--backup', first.id, '--file', firstZip]);
      expect(both.code).toBe(2);
      const badUrl = await cli(['apps', 'list', '--url', 'ftp://example.com']);
      expect(badUrl.code).toBe(2);
    });

    it('3 for an unknown backup, with the server\'s message', async () => {
      const run = await cli(['backup', 'show', randomUUID(), '--json']);
      expect(run.code).toBe(3);
      expect(json<{ error: { status: number; exitCode: number } }>(run).error).toMatchObject({ status: 404, exitCode: 3 });
      expect(run.stderr).toMatch(/appvault backup list/);
    });

    it('4 for a conflict: restoring to a name that is taken', async () => {
      const run = await cli(['restore', '--backup', first.id, '--name', 'shop']);
      expect(run.code).toBe(4);
      expect(run.stderr).toMatch(/"shop"/);
      expect(run.stderr).toMatch(/--name/);
    });

    it('5 for a key the server refuses, saying how to pass one', async () => {
      const run = await cli(['apps', 'list', '--token', 'not-a-key-of-this-server']);
      expect(run.code).toBe(5);
      expect(run.stderr).toMatch(/The server refused the key.*pass --token or set APPVAULT_TOKEN/);
      const none = await cli(['apps', 'list'], { APPVAULT_TOKEN: '' });
      expect(none.code).toBe(5);
    });

    it('5 for a key that may not do it: a backup by id alone needs an admin, --app is the way', async () => {
      const owner = await server.admin.post('/api/users', { email: 'cli-owner@example.com' });
      const key = owner.body.apiKey as string;
      const ownerClient = server.client(key);
      expect((await ownerClient.post('/api/apps', { name: 'owned' })).status).toBe(201);
      const backup = await ownerClient.post('/api/apps/owned/backups', {});
      const byId = await cli(['backup', 'show', backup.body.id], { APPVAULT_TOKEN: key });
      expect(byId.code).toBe(5);
      expect(byId.stderr).toMatch(/pass --app <app>/);
      const viaApp = await cli(['backup', 'show', backup.body.id, '--app', 'owned', '--json'], { APPVAULT_TOKEN: key });
      expect(viaApp.code, viaApp.stderr).toBe(0);
      expect(json(viaApp)).toMatchObject({ id: backup.body.id, appName: 'owned' });
    });

    it('6 when nothing listens at the URL', async () => {
      const port = await freePort();
      const run = await cli(['apps', 'list', '--json'], { APPVAULT_URL: `http://127.0.0.1:${port}` });
      expect(run.code).toBe(6);
      expect(run.stderr).toMatch(new RegExp(`Cannot reach the server at http://127.0.0.1:${port}.*Pass --url or set APPVAULT_URL`));
      expect(json<{ error: { exitCode: number } }>(run).error.exitCode).toBe(6);
    });
  });

  describe('offline archive commands', () => {
    it('verify: a genuine archive passes every check (exit 0)', async () => {
      const run = await cli(['archive', 'verify', firstZip, '--json'], { APPVAULT_URL: 'http://127.0.0.1:9' });
      expect(run.code, run.stderr).toBe(0);
      const report = json<{ valid: boolean; checkedEvents: number; checkedFiles: number; counts: { events: number; assets: number } }>(run);
      expect(report.valid).toBe(true);
      expect(report.checkedEvents).toBe(first.eventCount);
      expect(report.checkedFiles).toBe(report.counts.assets);
      expect(report.counts.events).toBe(first.eventCount);
    });

    it('verify: a changed event file fails (exit 1) with the reason a restore gives', async () => {
      const tampered = join(dir, 'tampered.zip');
      writeFileSync(tampered, await tamper(readFileSync(firstZip), 'events/000001.ndjson', (old) => Buffer.from(old.toString().replace('Product 1 ', 'Product 9 '))));
      const run = await cli(['archive', 'verify', tampered]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/is not a valid archive: Entry events\/000001\.ndjson (does not match its SHA-256|has \d+ bytes)/);
      const asJson = await cli(['archive', 'verify', tampered, '--json']);
      expect(asJson.code).toBe(1);
      expect(json(asJson)).toMatchObject({ valid: false, reason: expect.stringMatching(/events\/000001\.ndjson/) });
    });

    it('verify: checks that need the streams\' state (versions, rules, actors) are made too', async () => {
      const forgeries: [string, (f: Awaited<ReturnType<typeof takeApart>>) => void, RegExp][] = [
        [
          'gap',
          (f) => {
            const events = f.events as { stream: string; type: string; streamVersion: number }[];
            const stream = events.find((e) => e.type === 'ContentUpdated')!.stream;
            for (const e of events.filter((x) => x.stream === stream).slice(1)) e.streamVersion += 1;
          },
          /versions run 0, 1, 2/,
        ],
        ['actor', (f) => void ((f.events as { type: string; actor: string }[]).find((e) => e.type === 'ContentUpdated')!.actor = randomUUID()), /its actor .* is not in users\.json/],
        ['schema', (f) => void (((f.events as { type: string; data: { data: Record<string, unknown> } }[]).find((e) => e.type === 'ContentCreated')!.data.data)['title'] = 42), /data\.title: must be a String/],
      ];
      for (const [name, forge, refused] of forgeries) {
        const forgery = await takeApart(readFileSync(firstZip));
        forge(forgery);
        const file = join(dir, `forged-${name}.zip`);
        writeFileSync(file, await putTogether(forgery));
        const run = await cli(['archive', 'verify', file]);
        expect(run.code, `${name}: ${run.stdout}${run.stderr}`).toBe(1);
        expect(run.stderr, name).toMatch(refused);
      }
    });

    it('inspect: counts as the manifest gives them, schemas, users, time range, sizes', async () => {
      const run = await cli(['archive', 'inspect', firstZip, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const report = json<{
        app: { id: string; name: string };
        counts: Record<string, number>;
        schemas: { name: string; contents: number }[];
        users: { email: string }[];
        timeRange: { first: string; last: string };
        sizes: { events: number; assets: number; other: number; total: number };
        eventTypes: Record<string, number>;
      }>(run);
      const manifest = JSON.parse((await readZip(firstZip)).get('manifest.json')!.toString()) as { app: { id: string }; counts: Record<string, number>; entries: { size: number }[] };
      expect(report.counts).toEqual(manifest.counts);
      expect(report.app.id).toBe(manifest.app.id);
      expect(report.schemas.map((s) => s.name)).toEqual(['notes', 'products']);
      expect(report.users.map((u) => u.email)).toEqual(expect.arrayContaining(['owner@example.com', 'dev@example.com', 'editor@example.com']));
      expect(report.users).toHaveLength(manifest.counts['users']!);
      expect(Date.parse(report.timeRange.first)).toBeLessThanOrEqual(Date.parse(report.timeRange.last));
      expect(report.sizes.total).toBe(manifest.entries.reduce((sum, e) => sum + e.size, 0));
      expect(report.sizes.assets).toBeGreaterThan(50_000);
      expect(Object.values(report.eventTypes).reduce((a, b) => a + b, 0)).toBe(manifest.counts['events']);
      const products = await server.admin.get('/api/apps/shop/content/products?top=1');
      expect(report.schemas.find((s) => s.name === 'products')!.contents).toBe(products.body.total);
    });

    it('diff: what a later backup of the same app adds, and that it continues the earlier one', async () => {
      const added = await server.admin.post('/api/apps/shop/content/notes', { data: { text: 'after the first backup' } });
      expect(added.status).toBe(201);
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(Buffer.from('a new file'))], { type: 'text/plain' }), 'new.txt');
      expect((await server.admin.post('/api/apps/shop/assets', form)).status).toBe(201);
      const secondZip = join(dir, 'second.zip');
      const made = await cli(['backup', 'create', 'shop', '--download', secondZip, '--json']);
      expect(made.code, made.stderr).toBe(0);
      const second = json<{ backup: { eventCount: number } }>(made).backup;

      const run = await cli(['archive', 'diff', firstZip, secondZip, '--json']);
      expect(run.code, run.stderr).toBe(0);
      const diff = json<{ continues: boolean; eventsAdded: number; addedTypes: Record<string, number>; assetVersionsAdded: string[] }>(run);
      expect(diff.continues).toBe(true);
      expect(diff.eventsAdded).toBe(second.eventCount - first.eventCount);
      expect(diff.addedTypes).toEqual({ ContentCreated: 1, AssetCreated: 1 });
      expect(diff.assetVersionsAdded).toHaveLength(1);
      expect(diff.assetVersionsAdded[0]).toMatch(/^assets\/[^/]+\/0$/);

      const reversed = await cli(['archive', 'diff', secondZip, firstZip]);
      expect(reversed.code).toBe(1);
      expect(reversed.stderr).toMatch(/the other way round/);
    });
  });

  describe('partial backups', () => {
    let partial: { id: string; eventCount: number };
    const include = { schemas: ['products'], contents: null, assets: 'none' };

    it('backup create --schemas --assets none --wait: the backup holds that selection, and show and list say so', async () => {
      const run = await cli(['backup', 'create', 'shop', '--schemas', 'products', '--assets', 'none', '--label', 'products only', '--wait', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const job = json<{ id: string; status: string; partial: boolean; include: unknown; assetCount: number; eventCount: number }>(run);
      expect(job).toMatchObject({ status: 'Completed', partial: true, include, assetCount: 0 });
      expect((await server.admin.get(`/api/backups/${job.id}`)).body).toMatchObject({ partial: true, include });
      partial = { id: job.id, eventCount: job.eventCount };

      const show = await cli(['backup', 'show', job.id, '--app', 'shop']);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain('  partial:  schema products; assets: none\n');
      const whole = await cli(['backup', 'show', first.id]);
      expect(whole.stdout).not.toContain('partial:');
      const list = await cli(['backup', 'list', 'shop']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`^${job.id} .* partial: schema products; assets: none +local +products only$`, 'm'));
      expect(list.stdout).toMatch(new RegExp(`^${first.id} .* whole app +local +from the cli$`, 'm'));
    });

    it('archive inspect and verify of the downloaded file: partial, its selection, and the references it does not hold', async () => {
      const file = join(dir, 'partial.zip');
      const download = await cli(['backup', 'download', partial.id, '-o', file]);
      expect(download.code, download.stderr).toBe(0);
      const zip = await readZip(file);
      const manifest = JSON.parse(zip.get('manifest.json')!.toString()) as { partial: boolean; include: unknown };
      expect(manifest).toMatchObject({ partial: true, include });
      expect(JSON.parse(zip.get('selection.json')!.toString())).toEqual(include);

      const inspect = await cli(['archive', 'inspect', file]);
      expect(inspect.code, inspect.stderr).toBe(0);
      expect(inspect.stdout).toContain('  partial:  schema products; assets: none\n');
      const report = json<{ partial: boolean; include: unknown; counts: { events: number; assets: number }; schemas: { name: string }[] }>(await cli(['archive', 'inspect', file, '--json']));
      expect(report).toMatchObject({ partial: true, include, counts: { events: partial.eventCount, assets: 0 } });
      expect(report.schemas.map((s) => s.name)).toEqual(['products']);
      const whole = await cli(['archive', 'inspect', firstZip, '--json']);
      expect(json(whole)).toMatchObject({ partial: false, include: null });
      expect((await cli(['archive', 'inspect', firstZip])).stdout).not.toContain('partial:');

      const verify = await cli(['archive', 'verify', file]);
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.stdout).toContain('  partial: schema products; assets: none; checked against selection.json\n');
      // The products name assets the archive leaves out: the restore would log it, verify says it.
      expect(verify.stdout).toMatch(/^ {2}note: Dangling references: the contents name \d+ assets? the archive does not hold \(.+\); they are kept as plain ids$/m);
      const verified = json<{ include: unknown; notes: string[] }>(await cli(['archive', 'verify', file, '--json']));
      expect(verified.include).toEqual(include);
      expect(verified.notes.some((note) => note.startsWith('Dangling references'))).toBe(true);
    });

    it('refuses a selection the app lacks with the server\'s words (exit 2), and a choice it does not know before sending', async () => {
      const unknown = await cli(['backup', 'create', 'shop', '--schemas', 'nope', '--wait']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('include.schemas: the app has no schema named "nope"');
      const badChoice = await cli(['backup', 'create', 'shop', '--assets', 'most']);
      expect(badChoice.code).toBe(2);
      expect(badChoice.stderr).toMatch(/--assets <which>.*Allowed choices are all, referenced, none/);
      const empty = await cli(['backup', 'create', 'shop', '--schemas', ',']);
      expect(empty.code).toBe(2);
    });

    it('policy set takes the same selection, and policy show says what each scheduled backup holds', async () => {
      const set = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--keep-last', '3', '--schemas', 'notes', '--assets', 'referenced', '--json']);
      expect(set.code, set.stderr).toBe(0);
      expect(json(set)).toMatchObject({ include: { schemas: ['notes'], contents: null, assets: 'referenced' }, keepLast: 3 });
      const show = await cli(['policy', 'show', 'shop']);
      expect(show.stdout).toMatch(/^Holds: {5}partial: schema notes; assets: referenced$/m);
      // Without a selection the policy is set back to the whole app (PUT replaces it).
      const whole = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--json']);
      expect(json(whole)).toMatchObject({ include: null });
      expect((await cli(['policy', 'show', 'shop'])).stdout).toMatch(/^Holds: {5}the whole app$/m);
      expect((await cli(['policy', 'delete', 'shop'])).code).toBe(0);
    });
  });

  it('sets, shows and deletes a backup policy, with the server\'s words for a bad schedule', async () => {
    const set = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--keep-daily', '7', '--keep-last', '3', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(json<{ schedule: string; keepDaily: number; keepLast: number; nextRun: string }>(set)).toMatchObject({ schedule: '0 3 * * *', keepDaily: 7, keepLast: 3 });
    const show = await cli(['policy', 'show', 'shop']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/Schedule: {2}0 3 \* \* \* \(UTC\)/);
    expect(show.stdout).toMatch(/Keep: {6}keepLast 3, keepDaily 7/);
    expect(Date.parse(json<{ nextRun: string }>(await cli(['policy', 'show', 'shop', '--json'])).nextRun)).toBeGreaterThan(Date.now());
    const bad = await cli(['policy', 'set', 'shop', '--schedule', '61 * * * *']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/schedule: .*61/);
    const badKeep = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--keep-last', '0']);
    expect(badKeep.code).toBe(2);
    // --full-every sends fullEvery: a full backup, then two incremental ones, and show says so in both forms.
    const incremental = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--keep-daily', '7', '--full-every', '3', '--json']);
    expect(incremental.code, incremental.stderr).toBe(0);
    expect(json(incremental)).toMatchObject({ fullEvery: 3, incremental: { maxIncrements: 2, maxDays: null }, keepDaily: 7 });
    expect(json(await cli(['policy', 'show', 'shop', '--json']))).toMatchObject({ fullEvery: 3, incremental: { maxIncrements: 2 } });
    expect((await cli(['policy', 'show', 'shop'])).stdout).toMatch(/^Full: {6}1 run in 3, the 2 between incremental \(fullEvery 3\)$/m);
    // Set again without it, the policy (PUT replaces it) takes every run full, and show says that too.
    expect(json(await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--json']))).toMatchObject({ fullEvery: 1, incremental: null });
    expect((await cli(['policy', 'show', 'shop'])).stdout).toMatch(/^Full: {6}every run \(fullEvery 1\)$/m);
    for (const value of ['0', 'x']) {
      const badFullEvery = await cli(['policy', 'set', 'shop', '--schedule', '0 3 * * *', '--full-every', value]);
      expect(badFullEvery.code, badFullEvery.stderr).toBe(2);
      expect(badFullEvery.stderr).toMatch(new RegExp(`--full-every <n>.*'${value}'.*must be a whole number from 1`));
    }
    const deleted = await cli(['policy', 'delete', 'shop']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await cli(['policy', 'show', 'shop']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('has no backup policy');
  });

  describe('rollback', () => {
    // An app of its own: rolling shop back would change what the other tests read.
    const ids: Record<string, string> = {};
    let backupId: string;
    let rollbackId: string;
    let safetyBackupId: string;
    const notes = async () =>
      ((await server.admin.get('/api/apps/desk/content/notes?top=100')).body.items as { id: string; data: { text: string } }[]).map((n) => [n.id, n.data.text]).sort();

    beforeAll(async () => {
      expect((await server.admin.post('/api/apps', { name: 'desk' })).status).toBe(201);
      expect((await server.admin.post('/api/apps/desk/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] })).status).toBe(201);
      for (const key of ['n1', 'n2']) ids[key] = (await server.admin.post('/api/apps/desk/content/notes', { data: { text: key } })).body.id as string;
      const made = await cli(['backup', 'create', 'desk', '--wait', '--json']);
      expect(made.code, made.stderr).toBe(0);
      backupId = json<{ id: string }>(made).id;
      expect((await server.admin.put(`/api/apps/desk/content/notes/${ids.n1}`, { data: { text: 'n1, changed' } })).status).toBe(200);
      expect((await server.admin.delete(`/api/apps/desk/content/notes/${ids.n2}`)).status).toBe(204);
      ids.n3 = (await server.admin.post('/api/apps/desk/content/notes', { data: { text: 'n3' } })).body.id as string;
    });

    it('--dry-run reports per kind what would be created, changed and deleted, and writes nothing', async () => {
      const before = await notes();
      const run = await cli(['rollback', 'start', 'desk', '--backup', backupId, '--dry-run', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const report = json<{ events: number }>(run);
      expect(report).toMatchObject({
        dryRun: true,
        app: { name: 'desk' },
        target: { backupId, untilEvent: null, until: null },
        changes: { schemas: { created: [], changed: [], deleted: [] }, contents: { created: [ids.n2], changed: [ids.n1], deleted: [ids.n3] }, assets: { created: [], changed: [], deleted: [] } },
        counts: { created: 1, changed: 1, deleted: 1 },
      });
      expect(report.events).toBeGreaterThan(3);

      const text = await cli(['rollback', 'start', 'desk', '--backup', backupId, '--dry-run']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(new RegExp(`^Dry run: a rollback of app desk to backup ${backupId} \\(event \\d+\\); nothing was written\\.$`, 'm'));
      expect(text.stdout).toContain('  schemas:  0 created, 0 changed, 0 deleted\n');
      expect(text.stdout).toContain(`  contents: 1 created, 1 changed, 1 deleted\n    created: ${ids.n2}\n    changed: ${ids.n1}\n    deleted: ${ids.n3}\n`);
      expect(text.stdout).toContain(`append ${report.events} events`);
      expect(text.stdout).toContain(`appvault rollback start desk --backup ${backupId}`);
      expect(await notes()).toEqual(before);
      expect(json<{ total: number }>(await cli(['rollback', 'list', 'desk', '--json'])).total).toBe(0);
    });

    it('rolls back to a backup with --follow, after a safety backup; the app reads as it did then', async () => {
      const run = await cli(['rollback', 'start', 'desk', '--backup', backupId, '--follow', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const job = json<{ id: string; status: string; safetyBackupId: string; appendedEvents: number; counts: unknown; percent: number }>(run);
      expect(job).toMatchObject({ status: 'Completed', counts: { created: 1, changed: 1, deleted: 1 }, percent: 100 });
      expect(run.stderr).toMatch(/^rollback [0-9a-f]{8}…: /m);
      rollbackId = job.id;
      safetyBackupId = job.safetyBackupId;
      expect(await notes()).toEqual([[ids.n1, 'n1'], [ids.n2, 'n2']].sort());
      expect((await server.admin.get(`/api/backups/${safetyBackupId}`)).body).toMatchObject({ trigger: 'safety', status: 'Completed' });
      const shown = await cli(['backup', 'show', safetyBackupId]);
      expect(shown.stdout).toContain('  trigger:  safety\n');
    });

    it('rolls the rollback back to its safety backup, in text, and lists and shows both', async () => {
      const run = await cli(['rollback', 'start', 'desk', '--backup', safetyBackupId, '--follow']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Rolled back app desk to backup ${safetyBackupId} \\(event \\d+\\): 1 created, 1 changed, 1 deleted \\(\\d+ events appended\\)$`, 'm'));
      expect(run.stdout).toMatch(/^The app as it was before is in safety backup [0-9a-f-]{36}; to undo: `appvault rollback start desk --backup [0-9a-f-]{36}`$/m);
      expect(await notes()).toEqual([[ids.n1, 'n1, changed'], [ids.n3, 'n3']].sort());

      const list = await cli(['rollback', 'list', 'desk', '--json']);
      expect(list.code, list.stderr).toBe(0);
      const listed = json<{ total: number; items: { id: string; target: { backupId: string } }[] }>(list);
      expect(listed.total).toBe(2);
      expect(listed.items.map((r) => r.target.backupId)).toEqual([safetyBackupId, backupId]);
      const table = await cli(['rollback', 'list', 'desk']);
      expect(table.stdout).toMatch(/^ID\s+STATUS\s+CREATED\s+TARGET/);
      expect(table.stdout).toMatch(new RegExp(`^${rollbackId} +Completed .* backup ${backupId} \\(event \\d+\\) +1 created, 1 changed, 1 deleted +${safetyBackupId}$`, 'm'));

      const show = await cli(['rollback', 'show', 'desk', rollbackId, '--log']);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain(`  safety backup: ${safetyBackupId}\n`);
      expect(show.stdout).toContain('    contents: 1 created, 1 changed, 1 deleted\n');
      expect(show.stdout).toMatch(/Rollback complete/);
    });

    it('exit codes: 2 without a target, with two or for a partial backup; 3 for an unknown backup or rollback; 5 for a Developer', async () => {
      const none = await cli(['rollback', 'start', 'desk']);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('--backup <id>, --until-event <n> or --until <time> (exactly one)');
      expect((await cli(['rollback', 'start', 'desk', '--backup', backupId, '--until-event', '2'])).code).toBe(2);
      expect((await cli(['rollback', 'start', 'desk', '--until', 'yesterday'])).code).toBe(2);
      const tooFar = await cli(['rollback', 'start', 'desk', '--until-event', '100000', '--dry-run']);
      expect(tooFar.code).toBe(2);
      expect(tooFar.stderr).toMatch(/untilEvent is 100000, but app "desk" has \d+ events/);

      const partial = await cli(['backup', 'create', 'desk', '--schemas', 'notes', '--assets', 'none', '--wait', '--json']);
      expect(partial.code, partial.stderr).toBe(0);
      const refused = await cli(['rollback', 'start', 'desk', '--backup', json<{ id: string }>(partial).id, '--dry-run']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/is partial \(.*\); a rollback needs a backup of the whole app/);

      const unknown = await cli(['rollback', 'start', 'desk', '--backup', randomUUID(), '--json']);
      expect(unknown.code).toBe(3);
      expect(json<{ error: { status: number } }>(unknown).error.status).toBe(404);
      const noRollback = await cli(['rollback', 'show', 'desk', randomUUID()]);
      expect(noRollback.code).toBe(3);
      expect(noRollback.stderr).toContain('appvault rollback list desk');

      const developer = await server.admin.post('/api/users', { email: 'cli-desk-dev@example.com' });
      expect((await server.admin.post('/api/apps/desk/contributors', { email: 'cli-desk-dev@example.com', role: 'Developer' })).status).toBe(200);
      const denied = await cli(['rollback', 'start', 'desk', '--backup', backupId, '--dry-run'], { APPVAULT_TOKEN: developer.body.apiKey as string });
      expect(denied.code).toBe(5);
      expect(denied.stderr).toContain("Owners and admins roll it back");
    });
  });

  it('has --help for every command, with the exit codes', async () => {
    const commands = [
      [],
      ['apps', 'list'],
      ['backup'],
      ['backup', 'create'],
      ['backup', 'list'],
      ['backup', 'show'],
      ['backup', 'download'],
      ['backup', 'delete'],
      ['backup', 'link'],
      ['restore'],
      ['restore', 'list'],
      ['restore', 'show'],
      ['rollback'],
      ['rollback', 'start'],
      ['rollback', 'list'],
      ['rollback', 'show'],
      ['policy', 'set'],
      ['policy', 'show'],
      ['policy', 'delete'],
      ['archive', 'verify'],
      ['archive', 'inspect'],
      ['archive', 'diff'],
      ['diff'],
    ];
    for (const command of commands) {
      const run = await cli([...command, '--help']);
      expect(run.code, command.join(' ')).toBe(0);
      expect(run.stdout, command.join(' ')).toMatch(new RegExp(`^Usage: appvault ${command.join(' ')}`));
    }
    const top = await cli(['--help']);
    expect(top.stdout).toMatch(/Exit codes:[\s\S]*6 {2}cannot reach the server/);
    // The bounds the heap module checks, not a copy of them that could drift.
    expect(top.stdout).toContain(`HEAP_GROWING_PERCENT  how far the heap may grow past what is live (0-${MAX_HEAP_GROWING_PERCENT}, default ${DEFAULT_HEAP_GROWING_PERCENT}; 0: V8's own)`);
    expect((await cli(['backup', 'download', '--help'])).stdout).toMatch(/Exit codes: 0 ok/);
  });

  it('says how to build it when dist/ is missing (exit 2)', async () => {
    const bare = tempDir('appvault-bare-');
    mkdirSync(join(bare, 'bin'));
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ type: 'module' }));
    copyFileSync(join(ROOT, 'bin/appvault.js'), join(bare, 'bin/appvault.js'));
    const run = await cli(['--help'], {}, join(bare, 'bin/appvault.js'));
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('appvault: not built yet; run "npm run build" first\n');
  });
});
