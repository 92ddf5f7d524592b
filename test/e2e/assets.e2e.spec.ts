import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssetsProjection } from '../../src/assets/assets.projection.js';
import { AppReplays } from '../../src/eventsourcing/app-replays.service.js';
import { Projector } from '../../src/eventsourcing/projector.service.js';
import { type Actor, createCast, createUser, startServer, type TestServer } from '../support/test-server.js';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A multipart form the way browsers send one; `type` undefined sends the part without a declared type. */
function form(bytes: Buffer | string, fileName: string, type?: string, field = 'file'): FormData {
  const body = new FormData();
  const content = typeof bytes === 'string' ? bytes : new Uint8Array(bytes);
  body.append(field, new Blob([content], type === undefined ? {} : { type }), fileName);
  return body;
}

/** Every file under the blob store, temp files included, relative to its root. */
function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

/**
 * Sends a multipart upload by hand, optionally without Content-Length (chunked) and optionally
 * cutting the connection midway, which fetch cannot do.
 */
function rawUpload(
  server: TestServer,
  path: string,
  token: string,
  options: { size: number; chunked?: boolean; cutAfter?: number },
): Promise<{ status: number; body: string } | 'cut'> {
  const boundary = `----appvault${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="raw.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        method: 'POST',
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          ...(options.chunked ? {} : { 'content-length': String(head.length + options.size + tail.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', (error) => (options.cutAfter !== undefined ? resolve('cut') : reject(error)));
    req.write(head);
    let sent = 0;
    const pump = () => {
      while (sent < options.size) {
        if (options.cutAfter !== undefined && sent >= options.cutAfter) {
          setTimeout(() => {
            req.destroy();
            resolve('cut');
          }, 100);
          return;
        }
        const n = Math.min(64 * 1024, options.size - sent);
        sent += n;
        if (!req.write(randomBytes(n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end(tail);
    };
    pump();
  });
}

async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('assets over HTTP', () => {
  let server: TestServer;
  let owner: Actor;
  let developer: Actor;
  let editor: Actor;
  let reader: Actor;
  let stranger: Actor;
  let appId: string;
  const base = '/api/apps/media/assets';

  beforeAll(async () => {
    server = await startServer();
    const cast = await createCast(server, 'media');
    ({ owner, developer, editor, reader, stranger } = cast);
    appId = cast.app['id'] as string;
  });
  afterAll(async () => {
    await server?.close();
  });

  const upload = async (by: Actor, bytes: Buffer | string, fileName: string, type?: string) => {
    const res = await by.client.post(base, form(bytes, fileName, type));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; fileVersion: number; version: number; sha256: string };
  };

  it('uploads a text asset and answers the full Asset shape; the download is identical', async () => {
    const text = 'Hello, assets!\nZweite Zeile: äöü ✓\n';
    const res = await owner.client.post(base, form(text, 'hello.txt', 'text/plain'));
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['created', 'createdBy', 'fileName', 'fileSize', 'fileVersion', 'id', 'lastModified', 'mimeType', 'sha256', 'version'].sort());
    expect(res.body).toMatchObject({
      fileName: 'hello.txt',
      mimeType: 'text/plain',
      fileSize: Buffer.byteLength(text),
      sha256: sha256(text),
      fileVersion: 0,
      version: 0,
      createdBy: owner.id,
    });
    expect(new Date(res.body.created).toISOString()).toBe(res.body.created);
    expect(res.body.lastModified).toBe(res.body.created);

    expect((await reader.client.get(`${base}/${res.body.id}`)).body).toEqual(res.body);
    const download = await reader.client.bytes(`${base}/${res.body.id}/content`);
    expect(download.status).toBe(200);
    expect(download.bytes.toString('utf8')).toBe(text);
    expect(download.headers.get('content-type')).toBe('text/plain');
    expect(download.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="hello.txt"; filename*=UTF-8''hello.txt`);
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('etag')).toBe(`"${sha256(text)}"`);
  });

  it('keeps every file version of a binary asset of several MB, replaced twice, byte for byte', async () => {
    const versions = [
      { bytes: randomBytes(5 * 1024 * 1024 + 17), type: 'image/png', name: 'photo.png', by: owner },
      { bytes: randomBytes(3 * 1024 * 1024 + 1), type: 'image/jpeg', name: 'photo.jpg', by: editor },
      { bytes: randomBytes(4 * 1024 * 1024), type: 'application/pdf', name: 'photo.pdf', by: developer },
    ];
    const first = await upload(versions[0]!.by, versions[0]!.bytes, versions[0]!.name, versions[0]!.type);
    const answers = [first];
    for (const [i, v] of versions.entries()) {
      if (i === 0) continue;
      const res = await v.by.client.put(`${base}/${first.id}/content`, form(v.bytes, v.name, v.type));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ id: first.id, fileVersion: i, version: i, fileName: v.name, mimeType: v.type, fileSize: v.bytes.length, createdBy: owner.id });
      answers.push(res.body);
    }
    for (const [i, v] of versions.entries()) {
      expect(answers[i]!.sha256).toBe(sha256(v.bytes));
      const download = await reader.client.bytes(`${base}/${first.id}/content?version=${i}`);
      expect(download.status).toBe(200);
      expect(download.bytes.equals(v.bytes), `file version ${i}`).toBe(true);
      expect(sha256(download.bytes)).toBe(answers[i]!.sha256);
      expect(download.headers.get('content-type')).toBe(v.type);
      expect(download.headers.get('content-length')).toBe(String(v.bytes.length));
      expect(download.headers.get('content-disposition')).toContain(`filename="${v.name}"`);
    }
    const latest = await reader.client.bytes(`${base}/${first.id}/content`);
    expect(latest.bytes.equals(versions[2]!.bytes)).toBe(true);
    expect(latest.headers.get('content-type')).toBe('application/pdf');

    const missing = await reader.client.get(`${base}/${first.id}/content?version=3`);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('file version 3');
    for (const bad of ['abc', '-1', '1.5', '']) expect((await reader.client.get(`${base}/${first.id}/content?version=${bad}`)).status, bad).toBe(400);

    expect(blobFiles(server.dataDir)).toEqual(expect.arrayContaining([0, 1, 2].map((n) => join('assets', appId, first.id, String(n)))));
  });

  it('falls back to application/octet-stream and keeps unusual file names exactly', async () => {
    // Not a double quote: browsers and fetch send it as %22 in multipart names (HTML spec), indistinguishable from a literal %22.
    const name = "Résumé (final) l'été 日本; x.bin";
    const res = await editor.client.post(base, form(randomBytes(1000), name));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ fileName: name, mimeType: 'application/octet-stream' });
    const download = await reader.client.bytes(`${base}/${res.body.id}/content`);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    const disposition = download.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1]!)).toBe(name);

    const empty = await editor.client.post(base, form('', 'empty.txt', 'text/plain'));
    expect(empty.status).toBe(201);
    expect(empty.body).toMatchObject({ fileSize: 0, sha256: sha256('') });
    expect((await reader.client.bytes(`${base}/${empty.body.id}/content`)).bytes.length).toBe(0);
  });

  it('lists the assets of the app with a total, paged by top and skip', async () => {
    const all = await reader.client.get(base);
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(all.body.items.length);
    expect(all.body.total).toBeGreaterThanOrEqual(4);
    const page = await reader.client.get(`${base}?top=2&skip=1`);
    expect(page.body.total).toBe(all.body.total);
    expect(page.body.items).toEqual(all.body.items.slice(1, 3));
    expect((await reader.client.get(`${base}?skip=1000`)).body).toEqual({ total: all.body.total, items: [] });
    // The same paging rule, bounds and words as every other list.
    for (const bad of ['top=0', 'top=-1', 'top=x', 'skip=-2', 'top=1001']) {
      const res = await reader.client.get(`${base}?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.message, bad).toMatch(/^(top: must be a whole number from 1 to 1000|skip: must be a whole number 0 or more)/);
    }
    // Another app's assets never show.
    expect((await stranger.client.post('/api/apps', { name: 'other-media' })).status).toBe(201);
    expect((await stranger.client.post('/api/apps/other-media/assets', form('theirs', 'theirs.txt', 'text/plain'))).status).toBe(201);
    expect((await reader.client.get(base)).body.total).toBe(all.body.total);
  });

  it('answers 400 when the file is missing, doubled, misnamed or not multipart, and stores nothing', async () => {
    const before = blobFiles(server.dataDir);
    const noFile = new FormData();
    noFile.append('note', 'no file here');
    let res = await owner.client.post(base, noFile);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toContain('"file"');

    const textField = new FormData();
    textField.append('file', 'just text, not a file');
    expect((await owner.client.post(base, textField)).status).toBe(400);

    const two = form('one', 'one.txt', 'text/plain');
    two.append('file', new Blob(['two'], { type: 'text/plain' }), 'two.txt');
    res = await owner.client.post(base, two);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('exactly one file');

    const other = form('x', 'x.txt', 'text/plain', 'upload');
    expect((await owner.client.post(base, other)).status).toBe(400);

    res = await owner.client.post(base, { file: 'json' });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('multipart/form-data');

    const target = await upload(owner, 'v0', 'v0.txt', 'text/plain');
    const afterCreate = blobFiles(server.dataDir);
    expect((await owner.client.put(`${base}/${target.id}/content`, noFile)).status).toBe(400);
    expect((await owner.client.put(`${base}/${target.id}/content`, two)).status).toBe(400);
    expect((await owner.client.get(`${base}/${target.id}`)).body).toMatchObject({ fileVersion: 0, version: 0 });
    expect(blobFiles(server.dataDir)).toEqual(afterCreate);
    expect(afterCreate.filter((f) => !before.includes(f))).toEqual([join('assets', appId, target.id, '0')]);
  });

  it('leaves nothing behind when the client cuts the upload off midway', async () => {
    const before = blobFiles(server.dataDir);
    const listed = (await owner.client.get(base)).body.total;
    const result = await rawUpload(server, base, owner.client.token!, { size: 4 * 1024 * 1024, cutAfter: 1024 * 1024 });
    expect(result).toBe('cut');
    await eventually(() => JSON.stringify(blobFiles(server.dataDir)) === JSON.stringify(before));
    expect((await owner.client.get(base)).body.total).toBe(listed);
  });

  it('gives concurrent replacements of one asset distinct file versions, each with its own bytes', async () => {
    const asset = await upload(owner, 'start', 'race.txt', 'text/plain');
    const contents = Array.from({ length: 4 }, () => randomBytes(300_000));
    const results = await Promise.all(contents.map((bytes, i) => [owner, developer, editor, owner][i]!.client.put(`${base}/${asset.id}/content`, form(bytes, `race-${i}.bin`))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(results.map((r) => r.body.fileVersion).sort()).toEqual([1, 2, 3, 4]);
    for (const [i, r] of results.entries()) {
      expect(r.body.sha256).toBe(sha256(contents[i]!));
      const download = await reader.client.bytes(`${base}/${asset.id}/content?version=${r.body.fileVersion}`);
      expect(download.bytes.equals(contents[i]!)).toBe(true);
    }
    expect((await reader.client.get(`${base}/${asset.id}`)).body).toMatchObject({ fileVersion: 4, version: 4 });
  });

  it('deletes an asset: gone from every read, its bytes kept for the history', async () => {
    const asset = await upload(editor, 'bye', 'bye.txt', 'text/plain');
    await editor.client.put(`${base}/${asset.id}/content`, form('bye again', 'bye.txt', 'text/plain'));
    const del = await editor.client.delete(`${base}/${asset.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBe('');
    for (const path of [`${base}/${asset.id}`, `${base}/${asset.id}/content`, `${base}/${asset.id}/content?version=0`]) {
      expect((await reader.client.get(path)).status, path).toBe(404);
    }
    expect((await owner.client.delete(`${base}/${asset.id}`)).status).toBe(404);
    expect((await owner.client.put(`${base}/${asset.id}/content`, form('x', 'x.txt'))).status).toBe(404);
    expect((await reader.client.get(base)).body.items.map((a: { id: string }) => a.id)).not.toContain(asset.id);
    expect(blobFiles(server.dataDir)).toEqual(expect.arrayContaining([join('assets', appId, asset.id, '0'), join('assets', appId, asset.id, '1')]));
  });

  describe('roles', () => {
    let assetId: string;
    beforeAll(async () => {
      assetId = (await upload(owner, 'role check', 'roles.txt', 'text/plain')).id;
    });

    it('lets every contributor and admins read, list and download; not strangers (403), not without a key (401)', async () => {
      const reads = [base, `${base}/${assetId}`, `${base}/${assetId}/content`, `${base}/${assetId}/content?version=0`];
      for (const path of reads) {
        for (const c of [owner, developer, editor, reader]) expect((await c.client.get(path)).status, path).toBe(200);
        expect((await server.admin.get(path)).status, path).toBe(200);
        expect((await stranger.client.get(path)).status, path).toBe(403);
        expect((await server.client().get(path)).status, path).toBe(401);
        expect((await server.client('wrong-key').get(path)).status, path).toBe(401);
        expect((await owner.client.get(path.replace('/media/', '/no-such-app/'))).status, path).toBe(404);
      }
      // fetch itself resolves "..", so the traversal attempt here is an encoded slash.
      for (const unknown of ['3f1e5a8e-0000-4000-8000-000000000000', 'not-an-asset', 'a.b', 'a--b', '..%2F..%2Fx']) {
        expect((await reader.client.get(`${base}/${unknown}`)).status, unknown).toBe(404);
        expect((await reader.client.get(`${base}/${unknown}/content`)).status, unknown).toBe(404);
      }
    });

    it('lets Owner, Developer and Editor upload; not Reader or strangers', async () => {
      for (const c of [owner, developer, editor]) expect((await c.client.post(base, form('w', 'w.txt', 'text/plain'))).status).toBe(201);
      expect((await server.admin.post(base, form('w', 'w.txt', 'text/plain'))).status).toBe(201);
      const before = blobFiles(server.dataDir);
      const refused = await reader.client.post(base, form('w', 'w.txt', 'text/plain'));
      expect(refused.status).toBe(403);
      expect(refused.body.message).toContain('Reader');
      expect((await stranger.client.post(base, form('w', 'w.txt', 'text/plain'))).status).toBe(403);
      expect((await server.client().post(base, form('w', 'w.txt', 'text/plain'))).status).toBe(401);
      expect((await owner.client.post('/api/apps/no-such-app/assets', form('w', 'w.txt', 'text/plain'))).status).toBe(404);
      expect(blobFiles(server.dataDir)).toEqual(before);
    });

    it('lets Owner, Developer and Editor replace the file; not Reader or strangers', async () => {
      const path = `${base}/${assetId}/content`;
      for (const [i, c] of [owner, developer, editor].entries()) {
        const res = await c.client.put(path, form(`v${i + 1}`, 'r.txt', 'text/plain'));
        expect(res.status).toBe(200);
        expect(res.body.fileVersion).toBe(i + 1);
      }
      expect((await reader.client.put(path, form('x', 'x.txt'))).status).toBe(403);
      expect((await stranger.client.put(path, form('x', 'x.txt'))).status).toBe(403);
      expect((await server.client().put(path, form('x', 'x.txt'))).status).toBe(401);
      expect((await owner.client.put(path.replace('/media/', '/no-such-app/'), form('x', 'x.txt'))).status).toBe(404);
      expect((await owner.client.put(`${base}/3f1e5a8e-0000-4000-8000-000000000000/content`, form('x', 'x.txt'))).status).toBe(404);
      expect((await owner.client.get(`${base}/${assetId}`)).body.fileVersion).toBe(3);
    });

    it('lets Owner, Developer and Editor delete; not Reader or strangers', async () => {
      const path = `${base}/${assetId}`;
      expect((await reader.client.delete(path)).status).toBe(403);
      expect((await stranger.client.delete(path)).status).toBe(403);
      expect((await server.client().delete(path)).status).toBe(401);
      expect((await owner.client.delete(path.replace('/media/', '/no-such-app/'))).status).toBe(404);
      expect((await owner.client.delete(`${base}/3f1e5a8e-0000-4000-8000-000000000000`)).status).toBe(404);
      for (const c of [owner, developer, editor]) {
        const id = (await upload(c, 'd', 'd.txt', 'text/plain')).id;
        expect((await c.client.delete(`${base}/${id}`)).status).toBe(204);
      }
      expect((await owner.client.get(path)).status).toBe(200);
    });
  });

  it('answers every asset read the same after the projections are rebuilt', async () => {
    const snapshot = async () => {
      const list = (await reader.client.get(`${base}?top=1000`)).body;
      const details = [];
      for (const item of list.items as { id: string; fileVersion: number }[]) {
        const one = (await reader.client.get(`${base}/${item.id}`)).body;
        const files = [];
        for (let v = 0; v <= item.fileVersion; v++) {
          const d = await reader.client.bytes(`${base}/${item.id}/content?version=${v}`);
          files.push({ status: d.status, sha: sha256(d.bytes), type: d.headers.get('content-type'), length: d.headers.get('content-length'), disposition: d.headers.get('content-disposition') });
        }
        details.push({ one, files });
      }
      return { list, details };
    };
    const before = await snapshot();
    expect(before.list.total).toBeGreaterThan(5);
    await server.app.get(Projector).rebuildAll();
    expect(await snapshot()).toEqual(before);
    await server.app.get(AppReplays).rebuildApp(appId);
    expect(await snapshot()).toEqual(before);
  });

  it('drops the asset read models of a deleted app and keeps its bytes', async () => {
    const app = await owner.client.post('/api/apps', { name: 'short-lived' });
    const asset = (await owner.client.post('/api/apps/short-lived/assets', form('bye', 'bye.txt', 'text/plain'))).body;
    const projection = server.app.get(AssetsProjection);
    expect(await projection.assets.count({ appId: app.body.id })).toBe(1);
    expect((await owner.client.delete('/api/apps/short-lived')).status).toBe(204);
    expect(await projection.assets.count({ appId: app.body.id })).toBe(0);
    expect((await owner.client.get('/api/apps/short-lived/assets')).status).toBe(404);
    expect(blobFiles(server.dataDir)).toContain(join('assets', app.body.id, asset.id, '0'));
  });
});

describe('assets over the upload limit', () => {
  let server: TestServer;
  let owner: Actor;
  const base = '/api/apps/tiny/assets';

  beforeAll(async () => {
    server = await startServer({ MAX_UPLOAD_BYTES: '1024' });
    owner = await createUser(server, 'owner@example.com');
    expect((await owner.client.post('/api/apps', { name: 'tiny' })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 413 with a clear message and stores nothing, whether the size shows up front or only while streaming', async () => {
    const streamed = await owner.client.post(base, form(randomBytes(1025), 'big.bin'));
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(streamed.body.message).toMatch(/1024 bytes.*MAX_UPLOAD_BYTES/);

    const upFront = await owner.client.post(base, form(randomBytes(300 * 1024), 'bigger.bin'));
    expect(upFront.status).toBe(413);
    expect(upFront.body.message).toMatch(/over the limit of 1024 bytes/);

    const chunked = await rawUpload(server, base, owner.client.token!, { size: 3 * 1024 * 1024, chunked: true });
    expect(chunked).toMatchObject({ status: 413 });

    expect(blobFiles(server.dataDir)).toEqual([]);
    expect((await owner.client.get(base)).body).toEqual({ total: 0, items: [] });
  });

  it('accepts a file of exactly the limit, and refuses a replacement over it without changing the asset', async () => {
    const exact = randomBytes(1024);
    const res = await owner.client.post(base, form(exact, 'exact.bin'));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ fileSize: 1024, sha256: sha256(exact) });
    const over = await owner.client.put(`${base}/${res.body.id}/content`, form(randomBytes(2000), 'over.bin'));
    expect(over.status).toBe(413);
    expect((await owner.client.get(`${base}/${res.body.id}`)).body).toMatchObject({ fileVersion: 0, version: 0 });
    expect(blobFiles(server.dataDir)).toEqual([join('assets', (await owner.client.get('/api/apps/tiny')).body.id, res.body.id, '0')]);
    // The connection still serves requests after the refused upload was drained.
    expect((await owner.client.get(base)).body.total).toBe(1);
  });
});
