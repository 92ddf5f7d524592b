import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The projections' collections; job state and bookkeeping are not read models. */
const PROJECTIONS = ['apps', 'schemas', 'contents', 'assets', 'users'] as const;

export interface ReadModels {
  /** collection → key → document, straight from the SQLite file. */
  docs: Record<string, Record<string, unknown>>;
  /** word → keys of the contents whose full text matches it. */
  search: Record<string, string[]>;
}

/**
 * Every read model of an installation, read from its read.db (read-only), plus what full-text
 * search finds for each of `words`: two installations (or one before and after a rebuild) whose
 * dumps are equal answer every read alike.
 */
export function dumpReadModels(dataDir: string, words: readonly string[]): ReadModels {
  const db = new Database(join(dataDir, 'read.db'), { readonly: true });
  try {
    const docs: ReadModels['docs'] = {};
    for (const name of PROJECTIONS) {
      docs[name] = {};
      for (const row of db.prepare(`SELECT id, doc FROM c_${name} ORDER BY id`).all() as { id: string; doc: string }[]) docs[name][row.id] = JSON.parse(row.doc);
    }
    const search: ReadModels['search'] = {};
    const match = db.prepare('SELECT c.id AS id FROM c_contents c WHERE c.rid IN (SELECT rowid FROM fts_contents WHERE fts_contents MATCH ?) ORDER BY c.id');
    for (const word of words) search[word] = (match.all(`"${word}"*`) as { id: string }[]).map((r) => r.id);
    return { docs, search };
  } finally {
    db.close();
  }
}

/** Words that occur in the contents' data, a few common and a few rare, to probe the full-text index with. */
export function sampleWords(models: ReadModels, count = 24): string[] {
  const seen = new Map<string, number>();
  for (const doc of Object.values(models.docs['contents'] ?? {})) {
    const text = JSON.stringify((doc as { data?: unknown }).data ?? {});
    for (const word of text.toLowerCase().match(/[a-z]{4,}/g) ?? []) seen.set(word, (seen.get(word) ?? 0) + 1);
  }
  const sorted = [...seen.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([w]) => w);
  const step = Math.max(1, Math.floor(sorted.length / count));
  return sorted.filter((_, i) => i % step === 0).slice(0, count);
}
