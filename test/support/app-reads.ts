import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { BuiltApp } from './fixtures.js';
import type { ApiClient } from './test-server.js';

type Json = Record<string, unknown>;

/** Every item of a paged list, page by page. */
export async function allPages(client: ApiClient, path: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let skip = 0; ; skip += 200) {
    const page = await client.get(`${path}${path.includes('?') ? '&' : '?'}top=200&skip=${skip}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...(page.body.items as Json[]));
    if (items.length >= (page.body.total as number)) return items;
  }
}

/** An app's whole history, page by page (`GET /api/apps/{app}/events`). */
export async function appHistory(client: ApiClient, app: string): Promise<Json[]> {
  const items: Json[] = [];
  for (let after = 0; ; after += 1000) {
    const page = await client.get(`/api/apps/${app}/events?after=${after}&take=1000`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...(page.body.items as Json[]));
    if ((page.body.items as Json[]).length < 1000) return items;
  }
}

/** Replaces every string in `value` that `names` knows (ids) by its name, deeply. */
function renamed(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return names.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => renamed(item, names));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamed(v, names)]));
  return value;
}

/**
 * What an app reads as on one installation, comparable with its restore on another: schemas,
 * every content of every schema, the asset list and every file version's bytes (as SHA-256),
 * with user ids written as the users' emails and the app's id as APP (both differ between
 * installations; everything else must not).
 */
export async function appReads(client: ApiClient, app: string, assets: BuiltApp['assets']) {
  const appDoc = (await client.get(`/api/apps/${app}`)).body as Json;
  const users = await allPages(client, '/api/users');
  const names = new Map<string, string>([[appDoc.id as string, 'APP'], ...users.map((u) => [u.id as string, `user:${u.email as string}`] as [string, string])]);
  const schemas = (await client.get(`/api/apps/${app}/schemas`)).body.items as Json[];
  const contents: Record<string, Json[]> = {};
  for (const schema of schemas) contents[schema.name as string] = await allPages(client, `/api/apps/${app}/content/${schema.name as string}`);
  const assetList = await allPages(client, `/api/apps/${app}/assets`);
  const files: Record<string, string> = {};
  for (const asset of assets) {
    for (let v = 0; v < asset.versions.length; v++) {
      const res = await client.bytes(`/api/apps/${app}/assets/${asset.id}/content?version=${v}`);
      files[`${asset.id}/${v}`] = `${res.status} ${res.headers.get('content-type')} ${createHash('sha256').update(res.bytes).digest('hex')}`;
    }
  }
  return renamed({ schemas, contents, assets: assetList, files }, names) as { schemas: Json[]; contents: Record<string, Json[]>; assets: Json[]; files: Record<string, string> };
}

/**
 * A restored app reads as its source does: the same schemas, contents (some at least), asset
 * list and file hashes, and every version of every file the app was built with byte-equal.
 */
export async function expectSameReads(source: { client: ApiClient; app: string }, restored: { client: ApiClient; app: string }, assets: BuiltApp['assets']): Promise<void> {
  const original = await appReads(source.client, source.app, assets);
  const reads = await appReads(restored.client, restored.app, assets);
  expect(reads.schemas).toEqual(original.schemas);
  expect(reads.contents).toEqual(original.contents);
  expect(Object.values(reads.contents).flat().length).toBeGreaterThan(0);
  expect(reads.assets).toEqual(original.assets);
  expect(reads.files).toEqual(original.files);
  for (const asset of assets) {
    for (const [version, { bytes }] of asset.versions.entries()) {
      const read = await restored.client.bytes(`/api/apps/${restored.app}/assets/${asset.id}/content?version=${version}`);
      expect(read.status, `asset ${asset.id} version ${version}`).toBe(200);
      expect(read.bytes.equals(bytes), `asset ${asset.id} version ${version}`).toBe(true);
    }
  }
}
