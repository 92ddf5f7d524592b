import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bogusDirectoryOffset, type ForgeOptions, type Forgery, putTogether, takeApart } from '../support/archive-forge.js';
import { buildApp, waitForJob } from '../support/fixtures.js';
import { DEFAULT_MAX_EXPANDED_BYTES } from '../../src/archive/archive-verifier.js';
import { verifyArchive } from '../../src/cli/offline-archive.js';
import { createCast, startServer, tempDir, type TestServer } from '../support/test-server.js';
import { claimsOf, traces } from '../support/traces.js';

/** What a hostile archive would like the server's log to show: a line break, then a record of its own. */
const FORGED_LINE = '\n[Nest] 123  - 01/01/2026, 1:00:00 AM     LOG [RestoresService] Restore done';

type Event = Record<string, unknown> & { number: number; stream: string; streamVersion: number; type: string; data: Record<string, unknown> };

/** Numbers events 1..N again after a case removed or inserted some. */
function renumber(f: Forgery): void {
  f.events.forEach((e, i) => (e['number'] = i + 1));
}

const events = (f: Forgery) => f.events as Event[];
const firstOf = (f: Forgery, type: string) => {
  const found = events(f).find((e) => e.type === type);
  if (!found) throw new Error(`the genuine archive has no ${type}`);
  return found;
};

interface Case {
  name: string;
  forge: (f: Forgery) => ForgeOptions | void;
  refused: RegExp;
  raw?: (archive: Buffer) => Buffer;
}

const cases: Case[] = [
  { name: 'an asset file version that is a path', forge: (f) => void (firstOf(f, 'AssetCreated').data['fileVersion'] = '0/../../x'), refused: /AssetCreated.*fileVersion/ },
  {
    name: 'an asset stream whose id is ..',
    forge: (f) => {
      const stream = firstOf(f, 'AssetCreated').stream;
      for (const e of events(f)) if (e.stream === stream) e.stream = `${stream.slice(0, stream.indexOf('--') + 2)}..`;
    },
    refused: /no event names that file|not a valid id/,
  },
  { name: 'an unknown event type in a content stream', forge: (f) => void (firstOf(f, 'ContentUpdated').type = 'ContentExploded'), refused: /"ContentExploded" is not an event type/ },
  { name: 'an unknown event type in the app stream', forge: (f) => void (events(f)[1]!.type = 'AppTeleported'), refused: /"AppTeleported" is not an event type/ },
  { name: 'a user event in the app stream', forge: (f) => void Object.assign(events(f)[1]!, { type: 'UserCreated' }), refused: /UserCreated does not belong in a app stream/ },
  {
    name: 'a gap in a stream\'s versions',
    forge: (f) => {
      const stream = events(f).find((e) => e.type === 'ContentUpdated')!.stream;
      const ofStream = events(f).filter((e) => e.stream === stream);
      for (const e of ofStream.slice(1)) e.streamVersion += 1;
    },
    refused: /versions run 0, 1, 2/,
  },
  { name: 'a contributor role "Admin"', forge: (f) => void (events(f).find((e) => e.type === 'AppContributorAssigned' && e.data['role'] !== 'Owner')!.data['role'] = 'Admin'), refused: /role: must be one of/ },
  { name: 'a contributor role "__proto__"', forge: (f) => void (events(f).find((e) => e.type === 'AppContributorAssigned' && e.data['role'] !== 'Owner')!.data['role'] = '__proto__'), refused: /role: must be one of/ },
  { name: 'asset file version -1', forge: (f) => void (firstOf(f, 'AssetFileReplaced').data['fileVersion'] = -1), refused: /AssetFileReplaced.*fileVersion/ },
  { name: 'asset file version 1e30', forge: (f) => void (firstOf(f, 'AssetFileReplaced').data['fileVersion'] = 1e30), refused: /AssetFileReplaced.*fileVersion/ },
  { name: 'a file version that skips one', forge: (f) => void (firstOf(f, 'AssetFileReplaced').data['fileVersion'] = 2), refused: /no event names that file|file version|changed meanwhile/ },
  { name: 'content data that violates its schema', forge: (f) => void ((firstOf(f, 'ContentCreated').data['data'] as Record<string, unknown>)['title'] = 42), refused: /data\.title: must be a String/ },
  { name: 'a content field the schema does not have', forge: (f) => void ((firstOf(f, 'ContentUpdated').data['data'] as Record<string, unknown>)['smuggled'] = 'x'), refused: /has no field "smuggled"/ },
  { name: 'a 5 MiB app label', forge: (f) => void (firstOf(f, 'AppCreated').data['label'] = 'x'.repeat(5 * 1024 * 1024)), refused: /label: must be at most 100 characters/ },
  { name: 'format version 0', forge: () => ({ manifest: (m) => void (m['formatVersion'] = 0) }), refused: /formatVersion/ },
  { name: 'format version -1', forge: () => ({ manifest: (m) => void (m['formatVersion'] = -1) }), refused: /formatVersion/ },
  { name: 'format version 1.5', forge: () => ({ manifest: (m) => void (m['formatVersion'] = 1.5) }), refused: /formatVersion/ },
  { name: 'a wrong count of assets', forge: () => ({ manifest: (m) => void (m.counts['assets'] = m.counts['assets']! + 1) }), refused: /asset files, the manifest counts/ },
  { name: 'a wrong count of users', forge: () => ({ manifest: (m) => void (m.counts['users'] = m.counts['users']! - 1) }), refused: /users\.json lists \d+ users, the manifest counts/ },
  { name: 'a wrong count of events', forge: () => ({ manifest: (m) => void (m.counts['events'] = m.counts['events']! + 1) }), refused: /holds \d+ events, the manifest counts/ },
  { name: 'a count of event files one too low', forge: (f) => (f.events.length > 1000 ? { manifest: (m) => void (m.counts['eventFiles'] = m.counts['eventFiles']! - 1) } : { manifest: (m) => void (m.counts['eventFiles'] = 0) }), refused: /eventFiles|event files, the manifest counts/ },
  { name: 'an entry no event names', forge: (f) => void f.files.set(`assets/${randomUUID()}/0`, Buffer.from('smuggled bytes')), refused: /no event names that file/ },
  { name: 'an asset entry missing without being declared', forge: (f) => void f.files.delete([...f.files.keys()][0]!), refused: /neither contains it nor lists it as missing/ },
  { name: 'a "missing" entry that the archive contains', forge: (f) => ({ manifest: (m) => void m.missing.push({ name: [...f.files.keys()][0]!, reason: 'lies' }) }), refused: /lists .* as missing, but the archive contains it/ },
  {
    name: 'deeply nested event data',
    forge: (f) => {
      const target = firstOf(f, 'ContentUpdated');
      (target.data['data'] as Record<string, unknown>)['specs'] = '__DEEP__';
      const depth = 100_000;
      return { eventsText: events(f).map((e) => JSON.stringify(e)).join('\n').replace('"__DEEP__"', `${'['.repeat(depth)}${']'.repeat(depth)}`) };
    },
    refused: /nests deeper than 64 levels/,
  },
  { name: 'a huge manifest', forge: () => ({ manifest: (m) => void (m['warnings'] = Array.from({ length: 120_000 }, () => 'x'.repeat(90))) }), refused: /more than a manifest of \d+ entries can need/ },
  { name: 'a bogus zip64 directory offset', forge: () => undefined, raw: bogusDirectoryOffset, refused: /zip structure is damaged|not a readable zip/ },
  { name: 'an actor who is not in users.json', forge: (f) => void (firstOf(f, 'ContentUpdated')['actor'] = randomUUID()), refused: /its actor .* is not in users\.json/ },
  { name: 'a contributor who is not in users.json', forge: (f) => void (events(f).find((e) => e.type === 'AppContributorAssigned' && e.data['role'] !== 'Owner')!.data['userId'] = randomUUID()), refused: /not in users\.json/ },
  {
    name: 'an event after its content was deleted',
    forge: (f) => {
      const deleted = firstOf(f, 'ContentDeleted');
      const at = f.events.indexOf(deleted);
      f.events.splice(at + 1, 0, { ...deleted, type: 'ContentUpdated', streamVersion: deleted.streamVersion + 1, data: { data: { title: 'back from the dead' } } });
      renumber(f);
    },
    refused: /does not exist/,
  },
  { name: 'a stream that does not start with its create', forge: (f) => void Object.assign(firstOf(f, 'ContentCreated'), { type: 'ContentUpdated' }), refused: /ContentUpdated: data|does not exist at this point/ },
  { name: 'a look-alike email in users.json (Cyrillic letters)', forge: (f) => void (f.users[0]!['email'] = 'оwner@example.com'), refused: /users\.json entry 1: the email/ },
  { name: 'an email with a zero-width space', forge: (f) => void (f.users[0]!['email'] = 'own\u200ber@example.com'), refused: /invisible/ },
  { name: 'users.json that is not JSON', forge: () => ({ rawUsers: Buffer.from('[{"id": nope') }), refused: /users\.json cannot be read/ },
  // Strings that would reach a terminal, a log or a page: control characters are refused, the field named.
  { name: 'an event type with escapes and a forged log line', forge: (f) => void (firstOf(f, 'ContentUpdated').type = `\u001b]0;x\u0007${FORGED_LINE}`), refused: /^events\/000001\.ndjson: event \d+ is malformed at type: contains a control character \(U\+001B\)/ },
  { name: 'a stream name with a line break', forge: (f) => void (firstOf(f, 'ContentUpdated').stream += FORGED_LINE), refused: /event \d+ is malformed at stream: contains a control character \(U\+000A\)/ },
  { name: 'an actor with a C1 control', forge: (f) => void (firstOf(f, 'ContentUpdated')['actor'] = 'a\u009b2J'), refused: /event \d+ is malformed at actor: contains a control character \(U\+009B\)/ },
  { name: 'an app label with an escape', forge: (f) => void (firstOf(f, 'AppCreated').data['label'] = 'Shop\u001b[2J'), refused: /^Event 1 \(AppCreated in app-[0-9a-f-]+\) is refused: AppCreated: data\.label: contains a control character \(U\+001B\)/ },
  { name: 'an app description with a carriage return', forge: (f) => void (firstOf(f, 'AppCreated').data['description'] = 'a\r\nb'), refused: /AppCreated: data\.description: contains a control character \(U\+000D\); only line breaks and tabs/ },
  { name: 'an asset file name with a bidi override', forge: (f) => void (firstOf(f, 'AssetCreated').data['fileName'] = 'invoice\u202etxt.exe'), refused: /\(AssetCreated in asset-[^)]+\) is refused: AssetCreated: data\.fileName: contains a control character \(U\+202E\)/ },
  { name: 'a display name in users.json with an escape', forge: (f) => void (f.users[0]!['displayName'] = `Ada\u001b]52;c;cHduZWQ=\u0007`), refused: /users\.json is not a list .*users\.json\.0\.displayName: contains a control character \(U\+001B\)/ },
  { name: 'an email in users.json with a C1 control', forge: (f) => void (f.users[0]!['email'] = 'ada\u0085@example.com'), refused: /users\.json\.0\.email: contains a control character \(U\+0085\)/ },
  { name: 'a manifest app name with a line break', forge: () => ({ manifest: (m) => void ((m['app'] as Record<string, unknown>)['name'] = `shop${FORGED_LINE}`) }), refused: /^manifest\.json is malformed at app\.name: contains a control character \(U\+000A\)/ },
  { name: 'a manifest warning with a line break', forge: () => ({ manifest: (m) => void (m['warnings'] = [`fine${FORGED_LINE}`]) }), refused: /^manifest\.json is malformed at warnings\.0: contains a control character \(U\+000A\)/ },
  { name: 'a manifest format with an escape', forge: () => ({ manifest: (m) => void (m['format'] = 'appvault\u001b[2J') }), refused: /^manifest\.json names format "appvault\\u001b\[2J", expected "/ },
];

describe('restores refuse hostile archives, leaving nothing behind', () => {
  let server: TestServer;
  let genuine: Buffer;
  let usersBefore: number;

  beforeAll(async () => {
    server = await startServer();
    const cast = await createCast(server, 'source');
    await buildApp('source', [cast.owner.client, cast.developer.client, cast.editor.client], { contents: 40, updates: 30, binaryBytes: 5000 });
    const backup = await server.admin.post('/api/apps/source/backups', {});
    expect((await waitForJob(server.admin, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
    genuine = (await server.admin.bytes(`/api/backups/${backup.body.id}/archive`)).bytes;
    usersBefore = (await server.admin.get('/api/users')).body.items.length;
  });
  afterAll(async () => {
    await server.close();
  });

  const restore = async (archive: Buffer, name: string) => {
    const form = new FormData();
    form.append('name', name);
    form.append('file', new Blob([new Uint8Array(archive)], { type: 'application/zip' }), `${name}.zip`);
    const started = await server.admin.post('/api/restore', form);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return waitForJob(server.admin, `/api/restore/${started.body.id}`);
  };

  it('restores the genuine archive, taken apart and put together again (the control)', async () => {
    const job = await restore(await putTogether(await takeApart(genuine)), 'control');
    expect(job.status, String(job.error)).toBe('Completed');
    expect((await server.admin.get('/api/apps/control/content/products?top=1')).body.total).toBe((await server.admin.get('/api/apps/source/content/products?top=1')).body.total);
  });

  it.each(cases)('refuses $name', async ({ name, forge, refused, raw }) => {
    const forgery = await takeApart(genuine);
    const options = forge(forgery) ?? {};
    let archive = await putTogether(forgery, options);
    if (raw) archive = raw(genuine);
    const appName = `hostile-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 30).replace(/^-+|-+$/g, '')}`;
    const job = await restore(archive, appName);
    expect(job.status).toBe('Failed');
    expect(String(job.error)).toMatch(refused);
    expect(String(job.error)).not.toMatch(/Cannot read properties|Maximum call stack|is out of range|undefined/);
    if (job.appId) expect(traces(server.dataDir, job.appId as string)).toEqual({ events: 0, readRows: 0, blobs: 0 });
    expect((await server.admin.get('/api/users')).body.items.length).toBe(usersBefore);
    expect((await server.admin.post('/api/apps', { name: appName })).status).toBe(201);
    expect((await server.client().get('/health')).body.status).toBe('ok');
  });

  it('removes every user a failed restore created, however many', async () => {
    const forgery = await takeApart(genuine);
    for (let i = 0; i < 300; i++) forgery.users.push({ id: randomUUID(), email: `newcomer-${i}@example.org`, displayName: `Newcomer ${i}` });
    events(forgery).at(-1)!.type = 'ContentExploded';
    const job = await restore(await putTogether(forgery), 'many-users');
    expect(job.status).toBe('Failed');
    expect(String(job.error)).toMatch(/ContentExploded/);
    expect((await server.admin.get('/api/users')).body.items.length).toBe(usersBefore);
    // Their emails were freed with them: nobody is left holding newcomer-7's address.
    expect((await server.admin.post('/api/users', { email: 'newcomer-7@example.org' })).status).toBe(201);
    expect(claimsOf(server.dataDir, 'email').filter((key) => key.startsWith('newcomer-'))).toEqual(['newcomer-7@example.org']);
  });

  it('restores events written at an older schema version, reading them as the current one', async () => {
    const forgery = await takeApart(genuine);
    // Version 1 of SchemaCreated let fields leave `required` out when it was false.
    for (const e of events(forgery).filter((e) => e.type === 'SchemaCreated')) {
      e['schemaVersion'] = 1;
      e.data['fields'] = (e.data['fields'] as Record<string, unknown>[]).map(({ required, ...field }) => (required ? { ...field, required } : field));
    }
    const job = await restore(await putTogether(forgery), 'upcast');
    expect(job.status, String(job.error)).toBe('Completed');
    const schema = await server.admin.get('/api/apps/upcast/schemas/products');
    expect(schema.body.fields.find((f: { name: string }) => f.name === 'price')).toEqual({ name: 'price', type: 'Number', required: false });
    expect(schema.body.fields.find((f: { name: string }) => f.name === 'title')).toEqual({ name: 'title', type: 'String', required: true });
    const history = await server.admin.get('/api/apps/upcast/events?after=0&take=1000');
    const created = history.body.items.filter((e: { type: string }) => e.type === 'SchemaCreated');
    expect(created.length).toBeGreaterThan(0);
    for (const e of created) for (const field of e.data.fields) expect(typeof field.required).toBe('boolean');
  });

  it('refuses control characters in the same words in a restore, its dry run and the offline archive verify', async () => {
    const forgeries: ((f: Forgery) => void)[] = [
      (f) => void (firstOf(f, 'ContentUpdated').type = `\u001b]0;x\u0007${FORGED_LINE}`),
      (f) => void (firstOf(f, 'AppCreated').data['label'] = 'Shop\u009b2J'),
      (f) => void (f.users[0]!['displayName'] = 'Ada\u202e'),
    ];
    for (const [index, forge] of forgeries.entries()) {
      const forgery = await takeApart(genuine);
      forge(forgery);
      const archive = await putTogether(forgery);
      const restored = await restore(archive, `controls-${index}`);
      expect(restored.status).toBe('Failed');
      const error = String(restored.error);
      expect(error).toMatch(/contains a control character \(U\+[0-9A-F]{4}\)/);
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(archive)], { type: 'application/zip' }), 'hostile.zip');
      const dryRun = await server.admin.post('/api/restore?dryRun=true', form);
      expect(dryRun.status).toBe(200);
      expect(dryRun.body).toMatchObject({ dryRun: true, valid: false, error });
      const file = join(tempDir(), 'hostile.zip');
      writeFileSync(file, archive);
      await expect(verifyArchive(file, { maxExpandedBytes: DEFAULT_MAX_EXPANDED_BYTES })).rejects.toThrow(error);
    }
  });
});
