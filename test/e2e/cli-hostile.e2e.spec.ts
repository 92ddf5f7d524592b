import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putTogether, takeApart } from '../support/archive-forge.js';
import { type CliRun, jsonOf, runCli } from '../support/cli-runner.js';
import { buildApp, waitForJob } from '../support/fixtures.js';
import { ADMIN_TOKEN, createCast, startServer, tempDir } from '../support/test-server.js';

/**
 * The CLI against a server of this test's own that answers its routes with hostile text (names
 * that climb folders, escape sequences in every field it prints, a job event stream whose phases
 * carry escapes and line breaks), and against archives forged the same way. Whatever comes in,
 * files land in the folder asked for under a safe name, nothing is replaced without --force, no
 * control character reaches the terminal raw, and --json gives the server's data exactly.
 */

/** Text a server or an archive might send to take over a terminal. */
const EVIL = {
  title: '\x1b]0;pwned\x07',
  clipboard: '\x1b]52;c;ZWNobyBwd25lZA==\x07',
  clear: '\x1b[2J\x1b[H',
  csi: '\u009b31mred',
  bidi: 'txt.\u202egpj.exe',
  newline: 'ok\nappvault: forged line',
  del: 'a\x00b\x7fc',
};

/** How each shows on the terminal. */
const SHOWN = {
  title: '\\x1b]0;pwned\\x07',
  clipboard: '\\x1b]52;c;ZWNobyBwd25lZA==\\x07',
  clear: '\\x1b[2J\\x1b[H',
  csi: '\\x9b31mred',
  bidi: 'txt.\\u202egpj.exe',
  newline: 'ok\\nappvault: forged line',
  del: 'a\\x00b\\x7fc',
};

/** Any character a terminal acts on, or that reorders, hides or splits text; the line breaks of the layout are allowed. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]|[\u{e0000}-\u{e007f}]/u;

/** Nothing raw on either stream, and no line the server's text started. */
function expectNothingRaw(run: CliRun): void {
  for (const [name, text] of [
    ['stdout', run.stdout],
    ['stderr', run.stderr],
  ] as const) {
    const at = text.search(RAW);
    expect(at, `${name} has a raw control character at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))}`).toBe(-1);
    expect(text, name).not.toMatch(/^appvault: forged/m);
  }
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const CREATED = '2026-01-02T03:04:05.000Z';
const TIME = '2026-01-02_03-04-05';
const ARCHIVE = randomBytes(48 * 1024);

function backupOf(id: string, appName: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    appId: `app-of-${id}`,
    appName,
    label: `${EVIL.clipboard}${EVIL.newline}`,
    trigger: 'manual',
    include: null,
    partial: false,
    status: 'Completed',
    created: CREATED,
    started: CREATED,
    completed: CREATED,
    eventCount: 12,
    assetCount: 1,
    userCount: 2,
    sizeBytes: ARCHIVE.length,
    sha256: sha(ARCHIVE),
    error: null,
    warnings: [`${EVIL.clear}${EVIL.del}`],
    phase: `done${EVIL.csi}`,
    progress: { done: 12, total: 12, unit: 'events' },
    percent: 100,
    etaSeconds: 0,
    ...more,
  };
}

/** Backups by the id the CLI asks for; `id` in the body may differ (the server chose it). */
const BACKUPS = new Map<string, Record<string, unknown>>([
  ['b-climb', backupOf('b-climb', '../../../../x')],
  ['b-parent', backupOf('b-parent', '..')],
  ['b-absolute', backupOf('b-absolute', '/etc/passwd')],
  ['b-escapes', backupOf('b-escapes', `${EVIL.title}${EVIL.clipboard}`)],
  ['b-empty', backupOf('b-empty', '')],
  ['b-long', backupOf('b-long', 'ü'.repeat(3000))],
  ['b-bidi', backupOf('b-bidi', `evil${EVIL.bidi}`)],
  ['b-windows', backupOf('b-windows', 'a:b*c?"<>|\\')],
  ['b-time', backupOf('b-time', 'shop', { created: '../../../../etc/cron.d/x' })],
  ['b-id', backupOf('../../evil', '..')],
  ['b-plain', backupOf('b-plain', 'shop')],
]);
const byServerId = new Map([...BACKUPS.values()].map((b) => [b.id as string, b]));

const APPS = { total: 2, items: [{ id: 'app-1', name: `${EVIL.title}shop`, label: `${EVIL.clipboard}${EVIL.newline}`, contributors: [{ email: EVIL.bidi, role: 'Owner' }], lastModified: EVIL.csi }, { id: 'app-2', name: 'plain', label: '', contributors: [], lastModified: CREATED }] };

const RESTORE = {
  id: 'r-1',
  status: 'Failed',
  source: `url:https://example.com/${EVIL.title}`,
  name: `${EVIL.clear}copy`,
  appId: null,
  created: CREATED,
  started: CREATED,
  completed: CREATED,
  eventCount: 3,
  include: null,
  partial: false,
  restoredEvents: 1,
  restoredAssets: 0,
  log: [{ at: CREATED, message: `Event type ${EVIL.csi} ${EVIL.newline}` }],
  error: `archive says ${EVIL.clipboard}`,
  phase: `failed${EVIL.del}`,
  progress: { done: 1, total: 3, unit: 'events' },
  percent: 33,
  etaSeconds: 0,
};

const ROLLBACK = {
  id: 'rb-1',
  appId: 'app-1',
  appName: `${EVIL.title}shop`,
  status: 'Failed',
  target: { backupId: EVIL.bidi, untilEvent: null, until: null, event: 4 },
  safetyBackupId: EVIL.clear,
  changes: null,
  counts: null,
  appendedEvents: 0,
  created: CREATED,
  started: CREATED,
  completed: CREATED,
  error: EVIL.newline,
  log: [{ at: CREATED, message: EVIL.clipboard }],
  phase: 'failed',
  progress: { done: 0, total: 0, unit: 'events' },
  percent: 0,
  etaSeconds: 0,
};

const POLICY = {
  id: 'p-1',
  appId: 'app-1',
  appName: `${EVIL.title}shop`,
  schedule: `0 3 * * *${EVIL.clear}`,
  include: null,
  keepLast: 3,
  nextRun: EVIL.csi,
  lastRun: CREATED,
  lastBackupId: EVIL.bidi,
  lastError: `${EVIL.clipboard}${EVIL.newline}`,
  created: CREATED,
  updated: CREATED,
  updatedBy: 'someone',
};

/** The job a hostile event stream reports, phase after phase, then Completed. */
const STREAMED = [
  backupOf('job-1', 'sse', { status: 'Running', phase: `packing ${EVIL.title}`, percent: 10, progress: { done: 1, total: 12, unit: 'events' } }),
  backupOf('job-1', 'sse', { status: 'Running', phase: EVIL.newline, percent: 40, progress: { done: 5, total: 12, unit: `events${EVIL.clear}` } }),
  backupOf('job-1', 'sse', { status: 'Running', phase: `${EVIL.csi}${EVIL.clipboard}`, percent: 70, progress: { done: 8, total: 12, unit: 'events' } }),
  backupOf('job-1', 'sse', { status: 'Completed', phase: `done${EVIL.bidi}` }),
];

const NOT_FOUND_MESSAGE = `Backup ${EVIL.title} does not exist${EVIL.newline}`;

interface Seen {
  method: string;
  path: string;
}

/** A server of this test's own on a real port: the routes the CLI calls, answered with the text above. */
function fakeServer(seen: Seen[]): Server {
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    seen.push({ method, path: url.pathname });
    const route = `${method} /${parts.map((p, i) => (i >= 2 && !['backups', 'archive', 'events', 'rollbacks', 'backup-policy'].includes(p) ? ':' : p)).join('/')}`;
    req.resume();
    if (route === 'GET /api/apps') return send(res, 200, APPS);
    if (route === 'GET /api/backups') return send(res, 200, { total: BACKUPS.size, items: [...byServerId.values()] });
    if (route === 'GET /api/backups/:') {
      const found = BACKUPS.get(parts[2]!);
      return found ? send(res, 200, found) : send(res, 404, { statusCode: 404, error: 'Not Found', message: NOT_FOUND_MESSAGE });
    }
    if (route === 'GET /api/backups/:/archive' || route === 'GET /api/apps/:/backups/:/archive') {
      if (!byServerId.has(parts.at(-2)!) && parts.at(-2) !== 'job-1') return send(res, 404, { statusCode: 404, message: 'no archive' });
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': ARCHIVE.length });
      return res.end(ARCHIVE);
    }
    if (route === 'POST /api/apps/:/backups') {
      if (parts[2] === 'busy') return send(res, 409, { statusCode: 409, message: [`A backup of ${EVIL.clear} runs`, EVIL.bidi] });
      return send(res, 202, { ...STREAMED[0], status: 'Scheduled' });
    }
    if (route === 'GET /api/apps/:/backups/:/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      // A comment and an event of another type with raw escapes: the CLI reads only `job` events.
      res.write(`: ${EVIL.title}\n\n`);
      res.write(`event: ${EVIL.clear}\ndata: ${EVIL.clipboard}\n\n`);
      for (const job of STREAMED) res.write(`event: job\ndata: ${JSON.stringify(job)}\n\n`);
      return res.end();
    }
    if (route === 'GET /api/apps/:/backups/:') return send(res, 200, STREAMED.at(-1));
    if (route === 'GET /api/restore/:') return send(res, 200, RESTORE);
    if (route === 'GET /api/apps/:/rollbacks/:') return send(res, 200, ROLLBACK);
    if (route === 'GET /api/apps/:/backup-policy') return send(res, 200, POLICY);
    return send(res, 404, { statusCode: 404, message: `No route ${route}` });
  });
}

/** Every file under `root`, as paths relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

describe('appvault CLI against a hostile server', () => {
  const seen: Seen[] = [];
  const server = fakeServer(seen);
  let url: string;
  let root: string;
  /** The working folder, deep enough that a name climbing four folders would stay inside `root`. */
  let work: string;

  const cli = (args: string[]) => runCli(args, { cwd: work, env: { APPVAULT_URL: url, APPVAULT_TOKEN: 'any-key' } });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    root = tempDir('appvault-hostile-');
    work = join(root, 'a', 'b', 'c', 'd', 'work');
    mkdirSync(work, { recursive: true });
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  describe('file names from the server', () => {
    const cases: [string, string][] = [
      ['b-climb', `backup-_x-${TIME}.zip`],
      ['b-parent', 'backup-b-parent.zip'],
      ['b-absolute', `backup-_etc_passwd-${TIME}.zip`],
      ['b-escapes', `backup-_]0;pwned_]52;c;ZWNobyBwd25lZA==_-${TIME}.zip`],
      ['b-empty', 'backup-b-empty.zip'],
      ['b-long', `backup-${'ü'.repeat(40)}-${TIME}.zip`],
      ['b-bidi', `backup-eviltxt._gpj.exe-${TIME}.zip`],
      ['b-windows', `backup-a_b_c_-${TIME}.zip`],
      ['b-time', 'backup-shop-_etc_cro.zip'],
      ['b-id', 'backup-_evil.zip'],
    ];

    it.each(cases)('download %s lands in the working folder as %s, and nowhere else', async (id, name) => {
      const run = await cli(['backup', 'download', id]);
      expect(run.code, run.stderr).toBe(0);
      expect(filesUnder(root)).toEqual([join('a', 'b', 'c', 'd', 'work', name)]);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(120);
      expect(name).not.toMatch(/^\.|[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(sha(readFileSync(join(work, name)))).toBe(sha(ARCHIVE));
      expectNothingRaw(run);
      expect(run.stdout).toContain(`Downloaded ${join(work, name)}: `);
      rmSync(join(work, name));
    });

    it('--json gives the download as it went, with the safe name', async () => {
      const run = await cli(['backup', 'download', 'b-escapes', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const file = join(work, `backup-_]0;pwned_]52;c;ZWNobyBwd25lZA==_-${TIME}.zip`);
      expect(jsonOf(run)).toMatchObject({ file, bytes: ARCHIVE.length, sha256: sha(ARCHIVE), resumed: false, alreadyComplete: false, replaced: false });
      expect(run.stderr).toContain(`download ${SHOWN.title}${SHOWN.clipboard}: `);
      expectNothingRaw(run);
      rmSync(file);
    });
  });

  describe('an existing file', () => {
    const name = `backup-shop-${TIME}.zip`;
    const archiveRequests = () => seen.filter((s) => s.path.endsWith('/archive')).length;

    it('is not replaced without --force (exit 2, saying so), and is with it', async () => {
      const file = join(work, name);
      writeFileSync(file, 'my own file');
      const before = archiveRequests();
      const refused = await cli(['backup', 'download', 'b-plain']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`appvault: ${file} exists and is not the archive of backup b-plain; pass --force to replace it, or -o another file`);
      expect(readFileSync(file, 'utf8')).toBe('my own file');
      expect(archiveRequests()).toBe(before);
      expect(filesUnder(work)).toEqual([name]);

      const forced = await cli(['backup', 'download', 'b-plain', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(readFileSync(file)).toEqual(ARCHIVE);
      expect(forced.stdout).toContain(`Downloaded ${file}, replacing the file that was there: `);
      expect(filesUnder(work)).toEqual([name]);
    });

    it('that is the archive already is only checked: nothing is downloaded or written', async () => {
      const before = archiveRequests();
      const again = await cli(['backup', 'download', 'b-plain', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(jsonOf(again)).toMatchObject({ alreadyComplete: true, replaced: false, sha256: sha(ARCHIVE) });
      expect(archiveRequests()).toBe(before);
      rmSync(join(work, name));
    });

    it('given with -o is not replaced without --force either', async () => {
      const mine = join(root, 'mine.zip');
      writeFileSync(mine, 'keep me');
      const refused = await cli(['backup', 'download', 'b-escapes', '-o', mine]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/pass --force to replace it/);
      expect(readFileSync(mine, 'utf8')).toBe('keep me');
      const forced = await cli(['backup', 'create', 'sse', '--download', mine, '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(readFileSync(mine)).toEqual(ARCHIVE);
      rmSync(mine);
    });

    it('a name of `..` or `.` from the command line is refused before any request (it would climb to another route)', async () => {
      const before = seen.length;
      for (const args of [
        ['backup', 'delete', '..', '--app', 'shop'],
        ['backup', 'show', '.'],
        ['policy', 'delete', '..'],
      ]) {
        const run = await cli(args);
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.stderr).toMatch(/is not an app name or an id/);
      }
      expect(seen.length).toBe(before);
    });
  });

  describe('text from the server on the terminal', () => {
    it('apps list: names and labels escaped in the table; --json exactly the server\'s', async () => {
      const run = await cli(['apps', 'list']);
      expect(run.code, run.stderr).toBe(0);
      expectNothingRaw(run);
      expect(run.stdout).toMatch(new RegExp(`^${escapeRegExp(`${SHOWN.title}shop`)} +app-1 +${escapeRegExp(`${SHOWN.clipboard}${SHOWN.newline}`)} +1 +${escapeRegExp(SHOWN.csi)}$`, 'm'));
      expect(run.stdout.split('\n')).toHaveLength(4);
      const json = await cli(['apps', 'list', '--json']);
      expect(jsonOf(json)).toEqual(APPS);
      expectNothingRaw(json);
    });

    it('backup show and list: label, phase, warnings escaped, one line each', async () => {
      const run = await cli(['backup', 'show', 'b-escapes']);
      expect(run.code, run.stderr).toBe(0);
      expectNothingRaw(run);
      expect(run.stdout).toContain(`Backup b-escapes of app ${SHOWN.title}${SHOWN.clipboard} (app-of-b-escapes)\n`);
      expect(run.stdout).toContain(`  status:   Completed (done${SHOWN.csi})\n`);
      expect(run.stdout).toContain(`  label:    ${SHOWN.clipboard}${SHOWN.newline}\n`);
      expect(run.stdout).toContain(`  warning:  ${SHOWN.clear}${SHOWN.del}\n`);
      expect(jsonOf(await cli(['backup', 'show', 'b-escapes', '--json']))).toEqual(BACKUPS.get('b-escapes'));

      const list = await cli(['backup', 'list']);
      expect(list.code, list.stderr).toBe(0);
      expectNothingRaw(list);
      expect(list.stdout.trimEnd().split('\n')).toHaveLength(BACKUPS.size + 1);
      const listed = await cli(['backup', 'list', '--json']);
      expect(jsonOf(listed)).toEqual({ total: BACKUPS.size, items: [...byServerId.values()] });
      expectNothingRaw(listed);
    });

    it('restore show --log, rollback show --log, policy show: every field escaped', async () => {
      const restore = await cli(['restore', 'show', 'r-1', '--log']);
      expect(restore.code, restore.stderr).toBe(0);
      expectNothingRaw(restore);
      expect(restore.stdout).toContain(`Restore r-1 from url:https://example.com/${SHOWN.title}\n`);
      expect(restore.stdout).toContain(`  app:      ${SHOWN.clear}copy\n`);
      expect(restore.stdout).toContain(`  error:    archive says ${SHOWN.clipboard}\n`);
      expect(restore.stdout).toContain(`  ${CREATED}  Event type ${SHOWN.csi} ${SHOWN.newline}\n`);
      expect(jsonOf(await cli(['restore', 'show', 'r-1', '--json']))).toEqual(RESTORE);

      const rollback = await cli(['rollback', 'show', 'shop', 'rb-1', '--log']);
      expect(rollback.code, rollback.stderr).toBe(0);
      expectNothingRaw(rollback);
      expect(rollback.stdout).toContain(`Rollback rb-1 of app ${SHOWN.title}shop (app-1)\n`);
      expect(rollback.stdout).toContain(`  target:   backup ${SHOWN.bidi} (event 4)\n`);
      expect(rollback.stdout).toContain(`  safety backup: ${SHOWN.clear}\n`);
      expect(rollback.stdout).toContain(`  error:    ${SHOWN.newline}\n`);
      expect(jsonOf(await cli(['rollback', 'show', 'shop', 'rb-1', '--json']))).toEqual(ROLLBACK);

      const policy = await cli(['policy', 'show', 'shop']);
      expect(policy.code, policy.stderr).toBe(0);
      expectNothingRaw(policy);
      expect(policy.stdout).toContain(`App:       ${SHOWN.title}shop\n`);
      expect(policy.stdout).toContain(`Schedule:  0 3 * * *${SHOWN.clear} (UTC)\n`);
      expect(policy.stdout).toContain(`Last error: ${SHOWN.clipboard}${SHOWN.newline}\n`);
      expect(jsonOf(await cli(['policy', 'show', 'shop', '--json']))).toEqual(POLICY);
    });

    it("the server's error messages: escaped on stderr, exact in --json's error document", async () => {
      const missing = await cli(['backup', 'show', 'nope']);
      expect(missing.code).toBe(3);
      expectNothingRaw(missing);
      expect(missing.stderr).toContain(`appvault: Backup ${SHOWN.title} does not exist${SHOWN.newline}. See the backups with \`appvault backup list\`\n`);
      const asJson = await cli(['backup', 'show', 'nope', '--json']);
      expect(asJson.code).toBe(3);
      expect(jsonOf<{ error: { message: string; status: number } }>(asJson).error).toEqual({ message: `${NOT_FOUND_MESSAGE}. See the backups with \`appvault backup list\``, exitCode: 3, status: 404 });
      expectNothingRaw(asJson);

      const busy = await cli(['backup', 'create', 'busy']);
      expect(busy.code).toBe(4);
      expectNothingRaw(busy);
      expect(busy.stderr).toContain(`appvault: A backup of ${SHOWN.clear} runs; ${SHOWN.bidi}. See the app's backups`);
    });

    it('a hostile job event stream: phases and units escaped on the progress lines, nothing raw, no forged line', async () => {
      const run = await cli(['backup', 'create', 'sse', '--wait']);
      expect(run.code, run.stderr).toBe(0);
      expectNothingRaw(run);
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines).toEqual(
        expect.arrayContaining([
          `backup job-1: packing ${SHOWN.title} 1/12 events (10%)`,
          `backup job-1: ${SHOWN.newline} 5/12 events${SHOWN.clear} (40%)`,
          `backup job-1: ${SHOWN.csi}${SHOWN.clipboard} 8/12 events (70%)`,
          `backup job-1: done${SHOWN.bidi} 12/12 events (100%)`,
        ]),
      );
      expect(lines.every((line) => line.startsWith('backup job-1: '))).toBe(true);
      expect(run.stdout).toContain(`  status:   Completed (done${SHOWN.bidi})\n`);

      const json = await cli(['backup', 'create', 'sse', '--wait', '--json']);
      expect(json.code, json.stderr).toBe(0);
      expect(jsonOf(json)).toEqual(STREAMED.at(-1));
      expectNothingRaw(json);
    });
  });
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('appvault archive verify|inspect of hostile archives', () => {
  let genuine: Buffer;
  let dir: string;

  beforeAll(async () => {
    const server = await startServer();
    try {
      dir = tempDir('appvault-hostile-archives-');
      const cast = await createCast(server, 'shop');
      await buildApp('shop', [cast.owner.client, cast.developer.client, cast.editor.client], { contents: 3, updates: 2, binaryBytes: 1000 });
      const started = await server.admin.post('/api/apps/shop/backups', {});
      await waitForJob(server.admin, `/api/backups/${started.body.id as string}`);
      const response = await fetch(`${server.url}/api/backups/${started.body.id as string}/archive`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      genuine = Buffer.from(await response.arrayBuffer());
    } finally {
      await server.close();
    }
  });

  const cli = (args: string[]) => runCli(args, { env: { APPVAULT_URL: 'http://127.0.0.1:9' } });

  it('an event type with C1 and bidi controls: the refusal reaches the terminal escaped, on one line; --json has the reason exactly', async () => {
    const forgery = await takeApart(genuine);
    (forgery.events.find((e) => e['type'] === 'ContentCreated') as Record<string, unknown>)['type'] = `ContentCreated${EVIL.csi}${EVIL.bidi}`;
    const file = join(dir, 'type.zip');
    writeFileSync(file, await putTogether(forgery));
    for (const command of ['verify', 'inspect']) {
      const json = await cli(['archive', command, file, '--json']);
      expect(json.code).toBe(1);
      expectNothingRaw(json);
      const { reason } = jsonOf<{ valid: boolean; reason: string }>(json);
      expect(reason).toMatch(/event 17\b/i);
      const run = await cli(['archive', command, file]);
      expect(run.code, `${command}: ${run.stderr}`).toBe(1);
      expectNothingRaw(run);
      // The checks may quote the type raw, escape it themselves or only name the character; the
      // terminal gets their reason on one line, escaped, either way.
      expect(run.stderr).toBe(`appvault: ${file} is not a valid archive: ${reason.replaceAll(EVIL.csi, SHOWN.csi).replaceAll(EVIL.bidi, SHOWN.bidi)}\n`);
    }
  });

  it("display names, the app's name and warnings with escape sequences: shown escaped, or the archive refused, never raw", async () => {
    const forgery = await takeApart(genuine);
    const appName = `${EVIL.title}shop${EVIL.newline}`;
    const displayName = `${EVIL.clipboard}${EVIL.clear}${EVIL.bidi}`;
    const warning = `${EVIL.csi}${EVIL.del}`;
    const user = forgery.users[0]!;
    user['displayName'] = displayName;
    const file = join(dir, 'names.zip');
    writeFileSync(
      file,
      await putTogether(forgery, {
        manifest: (manifest) => {
          (manifest['app'] as Record<string, unknown>)['name'] = appName;
          manifest['warnings'] = [warning];
        },
      }),
    );
    const inspect = await cli(['archive', 'inspect', file]);
    expectNothingRaw(inspect);
    const verify = await cli(['archive', 'verify', file]);
    expectNothingRaw(verify);
    const inspected = await cli(['archive', 'inspect', file, '--json']);
    expectNothingRaw(inspected);
    // Checks that refuse such text in an archive may come to stand before inspect's report; either
    // way the terminal gets it escaped. Where the archive passes, every value is shown.
    if (inspect.code === 0) {
      expect(inspect.stdout).toContain(`  app:      ${SHOWN.title}shop${SHOWN.newline} (`);
      expect(inspect.stdout).toContain(`    ${user['email'] as string} (${SHOWN.clipboard}${SHOWN.clear}${SHOWN.bidi})\n`);
      expect(inspect.stdout).toContain(`  warning: ${SHOWN.csi}${SHOWN.del}\n`);
      const report = jsonOf<{ app: { name: string }; users: { displayName: string }[]; warnings: string[] }>(inspected);
      expect(report.app.name).toBe(appName);
      expect(report.users.map((u) => u.displayName)).toContain(displayName);
      expect(report.warnings).toEqual([warning]);
    } else {
      expect(inspect.code).toBe(1);
      expect(inspect.stderr).toContain(`appvault: ${file} is not a valid archive: `);
    }
    // A restore takes the archive's app name, which this one is not: verify refuses it, on one line.
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(new RegExp(`^appvault: ${escapeRegExp(file)} is not a valid archive: .+\n$`));
    expect(verify.stderr.split('\n')).toHaveLength(2);
  });

  it('verify refuses invisible characters in an archive (zero-width space, BOM, tag letters) and shows them escaped', async () => {
    const forgery = await takeApart(genuine);
    const [lacking] = [...forgery.files.keys()];
    forgery.files.delete(lacking!);
    // Invisible on a terminal and in a name, so archives may not carry them, as the API refuses them in labels.
    const reason = 'lost\u200b on upload\ufeff, see\u{e0041}\u{e0042}\u00ad';
    const file = join(dir, 'missing.zip');
    writeFileSync(file, await putTogether(forgery, { manifest: (manifest) => void (manifest.missing = [{ name: lacking!, reason }]) }));
    const run = await cli(['archive', 'verify', file]);
    expect(run.code, run.stderr).toBe(1);
    expectNothingRaw(run);
    expect(run.stderr).toMatch(new RegExp(`^appvault: ${escapeRegExp(file)} is not a valid archive: .*missing\\.0\\.reason: contains an invisible character \\(U\\+200B\\).*\n$`));
    const json = await cli(['archive', 'verify', file, '--json']);
    expect(json.code).toBe(1);
    expectNothingRaw(json);
  });
});
