import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import type { ChildServer } from './child-server.js';

/** What a restore left in a DATA_DIR, read straight from its files: to compare a resumed restore with one never interrupted. */

export const PROJECTIONS = ['apps', 'schemas', 'contents', 'assets', 'users'] as const;

export type Json = Record<string, unknown>;

/** Every file under `dir`, relative to it, with its modification time. */
export function filesUnder(dir: string): Map<string, number> {
  const found = new Map<string, number>();
  const walk = (at: string) => {
    if (!existsSync(at)) return;
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.set(relative(dir, path), statSync(path).mtimeMs);
    }
  };
  walk(dir);
  return found;
}

/** The new app's events as the store holds them, its id and name written as APP and NAME, without the Owner grant's time. */
export async function eventsOf(dataDir: string, appId: string, name: string): Promise<string[]> {
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  const events: string[] = [];
  try {
    for await (const event of store.readApp(appId)) {
      const { timestamp, ...metadata } = event.metadata;
      const kept = event.type === 'AppContributorAssigned' && event.data['role'] === 'Owner' ? metadata : { ...metadata, timestamp };
      events.push(JSON.stringify({ stream: event.stream, version: event.streamVersion, type: event.type, data: event.data, metadata: kept }).replaceAll(appId, 'APP').replaceAll(`"${name}"`, '"NAME"'));
    }
  } finally {
    await store.close();
  }
  return events;
}

/** Every read model document of one app, straight from read.db, with its id and name written as APP and NAME (the Owner grant's time left out). */
export function readModelsOf(dataDir: string, appId: string, name: string): Record<string, string[]> {
  const db = new Database(join(dataDir, 'read.db'), { readonly: true });
  try {
    const out: Record<string, string[]> = {};
    for (const collection of PROJECTIONS) {
      const rows = db.prepare(`SELECT doc FROM c_${collection} WHERE doc LIKE ? ORDER BY id`).all(`%${appId}%`) as { doc: string }[];
      out[collection] = rows
        .map((row) => {
          const doc = JSON.parse(row.doc) as Json;
          if (collection === 'apps') {
            delete doc['lastModified'];
          }
          return JSON.stringify(doc).replaceAll(appId, 'APP').replaceAll(`"${name}"`, '"NAME"');
        })
        .sort();
    }
    const fts = db.prepare('SELECT count(*) AS n FROM c_contents c WHERE c.rid IN (SELECT rowid FROM fts_contents) AND c.doc LIKE ?').get(`%${appId}%`) as { n: number };
    out['fullText'] = [String(fts.n)];
    return out;
  } finally {
    db.close();
  }
}

export function claimsOf(dataDir: string, name: string): { state: string; owner: string | null }[] {
  const db = new Database(join(dataDir, 'claims.db'), { readonly: true });
  try {
    return db.prepare("SELECT state, owner FROM claims WHERE kind = 'app-name' AND key = ?").all(name) as { state: string; owner: string | null }[];
  } finally {
    db.close();
  }
}

export function userCount(dataDir: string): number {
  const db = new Database(join(dataDir, 'read.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM c_users').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export const job = async (server: ChildServer, id: string): Promise<Json> => (await server.admin.get(`/api/restore/${id}`)).body as Json;
export const logOf = (restore: Json) => (restore['log'] as { message: string }[]).map((line) => line.message);

