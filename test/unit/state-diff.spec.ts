import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { appStream } from '../../src/apps/app.aggregate.js';
import { canonicalJson, shownValue, StateDiff } from '../../src/archive/state-diff.js';
import { assetStream } from '../../src/assets/asset.aggregate.js';
import { contentStream } from '../../src/contents/content.aggregate.js';
import { EventCatalog } from '../../src/eventsourcing/event-catalog.service.js';
import { schemaStream } from '../../src/schemas/schema.aggregate.js';
import { tempDir } from '../support/test-server.js';

function catalog(): EventCatalog {
  const c = new EventCatalog();
  c.register(appStream);
  c.register(schemaStream);
  c.register(contentStream);
  c.register(assetStream);
  return c;
}

const SCHEMA = 'schema-1';
const created = (id: string, title: string) => ({ type: 'ContentCreated', data: { contentId: id, schemaId: SCHEMA, schemaName: 'posts', data: { title }, status: 'Draft' } });
const id = (n: number) => `c${String(n).padStart(5, '0')}`;

describe('StateDiff: two states folded into a temporary SQLite file and compared', () => {
  const open: StateDiff[] = [];
  afterEach(async () => {
    for (const diff of open.splice(0)) await diff.dispose();
  });
  const make = async (dir = tempDir('appvault-state-diff-')) => {
    const diff = await StateDiff.create(dir, catalog());
    open.push(diff);
    return diff;
  };

  it('more entities than it keeps in memory and than one batch: every change found once, in order, paged without a gap', async () => {
    const diff = await make();
    const N = 5200;
    // from: N contents; to: the same, where every 7th is deleted, every 5th retitled, and 300 more exist.
    for (let n = 0; n < N; n++) diff.fold('from', `content-app--${id(n)}`, 'content', id(n), created(id(n), `title ${n}`));
    for (let n = 0; n < N + 300; n++) {
      const stream = `content-app--${id(n)}`;
      diff.fold('to', stream, 'content', id(n), created(id(n), `title ${n}`));
    }
    // Events of one entity far apart, after its state left the cache: folded on its stored state.
    for (let n = 0; n < N; n++) {
      const stream = `content-app--${id(n)}`;
      if (n % 7 === 0) diff.fold('to', stream, 'content', id(n), { type: 'ContentDeleted', data: {} });
      else if (n % 5 === 0) diff.fold('to', stream, 'content', id(n), { type: 'ContentUpdated', data: { data: { title: `title ${n}`, extra: n } } });
    }
    await diff.compare();
    const removed = Math.ceil(N / 7);
    let changed = 0;
    for (let n = 0; n < N; n++) if (n % 7 !== 0 && n % 5 === 0) changed += 1;
    const first = diff.report(0, 1000);
    expect(first.summary).toEqual({ contributors: { added: 0, removed: 0, changed: 0 }, schemas: { added: 0, removed: 0, changed: 0 }, contents: { added: 300, removed, changed }, assets: { added: 0, removed: 0, changed: 0 } });
    expect(first.total).toBe(300 + removed + changed);

    const all = [...first.items];
    for (let next = first.next; next !== null; ) {
      const page = diff.report(Number(next), 1000);
      all.push(...page.items);
      next = page.next;
    }
    expect(all).toHaveLength(first.total);
    expect(all.map((item) => item.id)).toEqual([...new Set(all.map((item) => item.id))].sort());
    const c5 = all.find((item) => item.id === id(5))!;
    expect(c5).toMatchObject({ change: 'changed', properties: [{ name: 'data.extra', change: 'added', before: null, after: { json: '5' } }] });
    expect(all.find((item) => item.id === id(7))).toMatchObject({ change: 'removed' });
    expect(all.find((item) => item.id === id(N + 1))).toMatchObject({ change: 'added' });
    expect(all.some((item) => item.id === id(1))).toBe(false);
  });

  it('the same state on both sides is no change; the file is gone after dispose', async () => {
    const dir = tempDir('appvault-state-diff-');
    const diff = await make(dir);
    for (const side of ['from', 'to'] as const) {
      diff.fold(side, 'schema-app--s1', 'schema', 's1', { type: 'SchemaCreated', data: { schemaId: 's1', name: 'posts', fields: [{ name: 'title', type: 'String', required: true }] } });
      diff.fold(side, 'app-app', 'app', 'app', { type: 'AppContributorAssigned', data: { userId: 'u1', role: 'Owner' } });
    }
    await diff.compare();
    expect(diff.report(0, 10)).toEqual({ summary: expect.any(Object), total: 0, items: [], next: null });
    expect(existsSync(diff.file)).toBe(true);
    await diff.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('values: canonical JSON (key order does not make a change), cut at 200 characters and marked, never inside a character', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
    expect(shownValue('"short"')).toEqual({ json: '"short"', truncated: false, length: 7 });
    const long = JSON.stringify('x'.repeat(500));
    expect(shownValue(long)).toEqual({ json: long.slice(0, 200), truncated: true, length: 502 });
    // An emoji (two UTF-16 units) across the cut is left out whole.
    const emoji = `"${'x'.repeat(198)}😀tail"`;
    const shown = shownValue(emoji);
    expect(shown.json).toBe(`"${'x'.repeat(198)}`);
    expect(shown.truncated).toBe(true);
  });
});
