import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient } from './test-server.js';

export function fileForm(bytes: Buffer, fileName: string, mimeType: string): FormData {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: mimeType }), fileName);
  return form;
}

export async function waitForJob(client: ApiClient, path: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await client.get(path);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    if (res.body.status === 'Completed' || res.body.status === 'Failed' || res.body.status === 'Interrupted') return res.body;
    if (Date.now() > deadline) throw new Error(`job at ${path} did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BuiltApp {
  assets: { id: string; versions: { bytes: Buffer; mimeType: string }[] }[];
  contentIds: string[];
}

/**
 * An app with a schema of every field type, `contents` contents over several versions (some
 * published, archived or deleted), assets with several file versions, written by several people.
 */
export async function buildApp(
  app: string,
  writers: ApiClient[],
  options: { contents: number; updates: number; binaryBytes?: number } = { contents: 520, updates: 300 },
): Promise<BuiltApp> {
  const [first] = writers;
  if (!first) throw new Error('need a writer');
  const schema = await first.post(`/api/apps/${app}/schemas`, {
    name: 'products',
    fields: [
      { name: 'title', type: 'String', required: true },
      { name: 'price', type: 'Number' },
      { name: 'available', type: 'Boolean' },
      { name: 'launched', type: 'DateTime' },
      { name: 'specs', type: 'Json' },
      { name: 'images', type: 'Assets' },
      { name: 'related', type: 'References' },
    ],
  });
  expect(schema.status, JSON.stringify(schema.body)).toBe(201);
  await first.post(`/api/apps/${app}/schemas`, { name: 'notes', fields: [{ name: 'text', type: 'String' }] });

  const assets: BuiltApp['assets'] = [];
  const files: [Buffer, string, string][] = [
    [Buffer.from('hello, first version\n'), 'readme.txt', 'text/plain'],
    [randomBytes(options.binaryBytes ?? 300_000), 'photo.jpg', 'image/jpeg'],
    [Buffer.from(JSON.stringify({ a: 1 })), 'data.json', 'application/json'],
  ];
  for (const [index, [bytes, name, type]] of files.entries()) {
    const writer = writers[index % writers.length]!;
    const created = await writer.post(`/api/apps/${app}/assets`, fileForm(bytes, name, type));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const versions = [{ bytes, mimeType: type }];
    for (let v = 1; v <= 2; v++) {
      const next = Buffer.concat([bytes, Buffer.from(`\nversion ${v}`)]);
      const replaced = await writer.put(`/api/apps/${app}/assets/${created.body.id}/content`, fileForm(next, name, type));
      expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
      versions.push({ bytes: next, mimeType: type });
    }
    assets.push({ id: created.body.id, versions });
  }

  const contentIds: string[] = [];
  for (let i = 0; i < options.contents; i++) {
    const writer = writers[i % writers.length]!;
    const res = await writer.post(`/api/apps/${app}/content/products${i % 3 === 0 ? '?publish=true' : ''}`, {
      data: {
        title: `Product ${i} ${i % 7 === 0 ? 'zebra' : 'plain'}`,
        price: i * 1.5,
        available: i % 2 === 0,
        launched: new Date(Date.UTC(2025, 0, 1 + (i % 300))).toISOString(),
        specs: { weight: i, colours: ['red', 'blue'] },
        images: [assets[i % assets.length]!.id],
        related: contentIds.length > 0 ? [contentIds[contentIds.length - 1]!] : [],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    contentIds.push(res.body.id);
  }
  for (let u = 0; u < options.updates; u++) {
    const writer = writers[u % writers.length]!;
    const id = contentIds[u % contentIds.length]!;
    const res = await writer.put(`/api/apps/${app}/content/products/${id}`, { data: { title: `Product ${u} updated ${u}`, price: u } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const statusChanges = Math.min(20, Math.floor(contentIds.length / 2));
  for (let s = 0; s < statusChanges; s++) {
    const id = contentIds[s]!;
    await first.put(`/api/apps/${app}/content/products/${id}/status`, { status: s % 2 === 0 ? 'Published' : 'Archived' });
  }
  const deletes = Math.min(5, contentIds.length - statusChanges);
  for (let d = 0; d < deletes; d++) expect((await first.delete(`/api/apps/${app}/content/products/${contentIds[contentIds.length - 1 - d]}`)).status).toBe(204);
  return { assets, contentIds: contentIds.slice(0, contentIds.length - deletes) };
}

/** Polls `probe` until it answers something other than undefined (a state another process reaches), or fails naming `what`. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
