import { describe, expect, it } from 'vitest';
import {
  claimId,
  expiredExpression,
  heldExpression,
  isDuplicateKeyError,
  literal,
  liveFilter,
  serverNow,
  toNameEntry,
} from '../../src/infrastructure/name-index/mongo-name-index.adapter.js';
import {
  fromStoredDocument,
  indexWords,
  mongoIndexes,
  toMongoFilter,
  toMongoSort,
  toMongoTextQuery,
  toStoredDocument,
} from '../../src/infrastructure/read-store/mongo-read-store.adapter.js';

describe('MongoDB mapping: filters', () => {
  it('maps equality, booleans, null and array membership to plain field conditions', () => {
    expect(toMongoFilter({ appId: 'a1', rank: 5, published: true, note: null, tags: { $contains: 'tag3' } })).toEqual({
      appId: 'a1',
      rank: 5,
      published: true,
      note: null,
      tags: 'tag3',
    });
    expect(toMongoFilter({})).toEqual({});
  });

  it('refuses field names that could smuggle in operators or paths', () => {
    expect(() => toMongoFilter({ $where: 'x' })).toThrow(/Invalid field/);
    expect(() => toMongoFilter({ 'a.b': 1 })).toThrow(/Invalid field/);
  });
});

describe('MongoDB mapping: full-text queries', () => {
  const matches = (query: ReturnType<typeof toMongoTextQuery>, text: string) => {
    const words = indexWords(text);
    const all = (query as { _words?: { $all: RegExp[] } })._words?.$all;
    return all !== undefined && all.every((re) => words.some((w) => re.test(w)));
  };

  it('needs every word of the query as the start of a word of the text, as on SQLite', () => {
    expect(toMongoTextQuery('blue WHALE')).toEqual({ _words: { $all: [/^blue/, /^whale/] } });
    expect(matches(toMongoTextQuery('wha'), 'Blue whale facts')).toBe(true);
    expect(matches(toMongoTextQuery('blue wha'), 'Blue whale facts')).toBe(true);
    expect(matches(toMongoTextQuery('blue seal'), 'Blue whale facts')).toBe(false);
    expect(matches(toMongoTextQuery('hale'), 'Blue whale facts')).toBe(false);
    expect(matches(toMongoTextQuery('watch'), 'Red panda whale-watching')).toBe(true);
  });

  it('keeps query syntax of the user out', () => {
    expect(toMongoTextQuery('"(* OR')).toEqual({ _words: { $all: [/^or/] } });
    expect(toMongoTextQuery('-excluded "phrase')).toEqual({ _words: { $all: [/^excluded/, /^phrase/] } });
    expect(toMongoTextQuery('a.b*c')).toEqual({ _words: { $all: [/^a/, /^b/, /^c/] } });
  });

  it('matches nothing when the text has no words', () => {
    expect(toMongoTextQuery('  !? ')).toEqual({ _id: { $in: [] } });
  });

  it('indexes each distinct word once, lower case, any script', () => {
    expect(indexWords('Blue whale, blue WHALE! Straße 42')).toEqual(['blue', 'whale', 'straße', '42']);
  });
});

describe('MongoDB mapping: sorting', () => {
  it('sorts by the requested keys in order, then by id', () => {
    const sort = toMongoSort([
      { field: 'rank', direction: 'desc' },
      { field: 'title', direction: 'asc' },
    ]);
    expect(sort).toEqual({ rank: -1, title: 1, _id: 1 });
    expect(Object.keys(sort)).toEqual(['rank', 'title', '_id']);
    expect(toMongoSort()).toEqual({ _id: 1 });
    expect(() => toMongoSort([{ field: 'a;b', direction: 'asc' }])).toThrow(/Invalid field/);
  });

  it('breaks ties by id in the direction of the last key, so an index ending with the key serves a descending sort backwards', () => {
    expect(toMongoSort([{ field: 'created', direction: 'desc' }])).toEqual({ created: -1, _id: -1 });
    expect(Object.keys(toMongoSort([{ field: 'created', direction: 'desc' }]))).toEqual(['created', '_id']);
    expect(toMongoSort([{ field: 'name', direction: 'asc' }])).toEqual({ name: 1, _id: 1 });
  });

  it('declares each index with the key appended, named as MongoDB names them', () => {
    expect(mongoIndexes({ indexes: ['email', ['appId', 'schemaId', 'created']], fullText: () => '' })).toEqual([
      { name: 'email_1__id_1', key: { email: 1, _id: 1 } },
      { name: 'appId_1_schemaId_1_created_1__id_1', key: { appId: 1, schemaId: 1, created: 1, _id: 1 } },
      { name: 'full_text_words', key: { _words: 1 } },
    ]);
  });
});

describe('MongoDB mapping: documents', () => {
  interface Item {
    id: string;
    title: string;
    tags: string[];
    note: string | null;
    missing?: string;
    at?: Date;
  }

  it('stores the id as _id and the words of the full text as _words, and strips both on the way back', () => {
    const item: Item = { id: 'i1', title: 'Blue whale', tags: ['sea'], note: null };
    const stored = toStoredDocument(item, (d) => `${d.title} ${d.tags.join(' ')}`);
    expect(stored).toEqual({ _id: 'i1', _words: ['blue', 'whale', 'sea'], id: 'i1', title: 'Blue whale', tags: ['sea'], note: null });
    expect(fromStoredDocument<Item>(stored)).toEqual(item);
  });

  it('stores what JSON keeps, like the SQLite adapter: no undefined fields, dates as strings', () => {
    const stored = toStoredDocument<Item>({ id: 'i2', title: 't', tags: [], note: null, missing: undefined, at: new Date(0) });
    expect(stored).not.toHaveProperty('missing');
    expect(stored).not.toHaveProperty('_words');
    expect(stored['at']).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('MongoDB mapping: claims', () => {
  const shop = { kind: 'app-name' as const, scope: '', key: 'shop' };

  it('keys a claim by kind, scope and key, so equal keys of different kinds or scopes never collide', () => {
    expect(claimId(shop)).toBe('["app-name","","shop"]');
    expect(claimId({ kind: 'schema-name', scope: 'app-1', key: 'shop' })).not.toBe(claimId({ kind: 'schema-name', scope: 'app-2', key: 'shop' }));
    // A separator inside a part cannot make two claims meet.
    expect(claimId({ kind: 'schema-name', scope: 'a","b', key: 'c' })).not.toBe(claimId({ kind: 'schema-name', scope: 'a', key: 'b","c' }));
  });

  it('judges expiry by the server\'s clock: $$NOW, never a time the process computed', () => {
    const now = serverNow(0);
    expect(now).toEqual({ $add: [{ $toLong: '$$NOW' }, 0] });
    expect(serverNow(1500)).toEqual({ $add: [{ $toLong: '$$NOW' }, 1500] });
    // A reservation replaces the claim's document only while it is not held: neither committed nor
    // reserved and live (decided in the update pipeline: MongoDB refuses $expr in an upsert's filter).
    expect(heldExpression(now)).toEqual({ $or: [{ $eq: ['$state', 'committed'] }, { $and: [{ $eq: ['$state', 'reserved'] }, { $gt: [{ $ifNull: ['$expiresAt', 0] }, now] }] }] });
    // What a pipeline writes is taken as it is, even a value that starts with $.
    expect(literal('$where')).toEqual({ $literal: '$where' });
    // Renewals and hand-overs need the owner's token and a reservation still live.
    expect(liveFilter(shop, 'token-1', now)).toEqual({ _id: '["app-name","","shop"]', token: 'token-1', state: 'reserved', $expr: { $gt: ['$expiresAt', now] } });
    expect(expiredExpression(now)).toEqual({ $and: [{ $eq: ['$state', 'reserved'] }, { $lte: [{ $ifNull: ['$expiresAt', 0] }, now] }] });
  });

  it('recognises the duplicate key error that a lost race for a claim produces', () => {
    expect(isDuplicateKeyError(Object.assign(new Error('E11000 duplicate key'), { code: 11000 }))).toBe(true);
    expect(isDuplicateKeyError({ code: 11001 })).toBe(false);
    expect(isDuplicateKeyError(new Error('other'))).toBe(false);
    expect(isDuplicateKeyError(null)).toBe(false);
    expect(isDuplicateKeyError('E11000')).toBe(false);
  });

  it('treats a reservation the server found expired as no entry and shows live ones', () => {
    const base = { _id: claimId(shop), ...shop };
    const reserved = { ...base, state: 'reserved' as const, owner: null, holder: 'job-1', token: 't', expiresAt: 2000 };
    expect(toNameEntry({ ...reserved, expired: true })).toBeUndefined();
    expect(toNameEntry({ ...reserved, expired: false })).toEqual({ claim: shop, state: 'reserved', holder: 'job-1', expiresAt: 2000 });
    const committed = { ...base, state: 'committed' as const, owner: 'app-1', holder: null, token: 't', expiresAt: null };
    expect(toNameEntry({ ...committed, expired: false })).toEqual({ claim: shop, state: 'committed', owner: 'app-1' });
  });
});
