import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite-event-store.adapter.js';
import { describe, expect, it } from 'vitest';
import { claims } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';
import { openSqlite } from '../../src/infrastructure/sqlite/open-sqlite.js';
import type { DocChange } from '../../src/infrastructure/read-store/read-store.port.js';
import { SqliteReadStore } from '../../src/infrastructure/read-store/sqlite-read-store.adapter.js';
import { eventStoreContract } from './event-store.contract.js';
import { nameIndexContract } from './name-index.contract.js';
import { readStoreContract } from './read-store.contract.js';

// Real files on disk, a fresh directory per test, so WAL and durability settings are exercised.
const dir = () => mkdtempSync(join(tmpdir(), 'appvault-contract-'));

eventStoreContract('sqlite', async () => new SqliteEventStore(join(dir(), 'events.db')));
readStoreContract('sqlite', async () => new SqliteReadStore(join(dir(), 'read.db')), async (store) => new SqliteReadStore((store as SqliteReadStore).database.name));
nameIndexContract('sqlite', async (shiftMs) => {
  const file = join(dir(), 'claims.db');
  const index = new SqliteNameIndex(openSqlite(file), { shiftMs });
  return { index, close: () => index.close(), shared: { env: () => ({ RACE_ADAPTER: 'sqlite', RACE_SQLITE_FILE: file }) } };
});

describe('SqliteNameIndex: claims kept by earlier versions', () => {
  it('moves the app names of the read models\' name_index into the claims file, once', async () => {
    const reads = new SqliteReadStore(join(dir(), 'read.db'));
    reads.database.exec(`CREATE TABLE name_index (name TEXT PRIMARY KEY, state TEXT NOT NULL, app_id TEXT, token TEXT, expires_at INTEGER)`);
    reads.database.prepare(`INSERT INTO name_index VALUES ('shop', 'committed', 'app-1', 't', NULL)`).run();
    const index = SqliteNameIndex.open(join(dir(), 'claims.db'));
    try {
      expect(index.importLegacy(reads.database)).toBe(1);
      expect(index.importLegacy(reads.database)).toBe(0);
      expect(await index.lookup(claims.appName('shop'))).toMatchObject({ state: 'committed', owner: 'app-1' });
      await expect(index.reserve(claims.appName('shop'), 1000)).rejects.toMatchObject({ reason: 'taken' });
    } finally {
      await index.close();
      await reads.close();
    }
  });

  it('forgets reservations (a dead process\'s, when the server holds the DATA_DIR lock) but keeps committed claims', async () => {
    const index = SqliteNameIndex.open(join(dir(), 'claims.db'));
    try {
      await index.reserve(claims.restoreSlot(), 60_000, 'job-1');
      await index.commit(claims.appName('kept'), await index.reserve(claims.appName('kept'), 1000), 'app-1');
      expect(index.forgetReservations()).toBe(1);
      expect(await index.lookup(claims.restoreSlot())).toBeUndefined();
      expect(await index.lookup(claims.appName('kept'))).toMatchObject({ owner: 'app-1' });
    } finally {
      await index.close();
    }
  });
});

describe('SqliteReadStore: look-ups kept in memory (cacheLookups)', () => {
  interface Person {
    id: string;
    keyHash: string;
    name: string;
  }
  const put = (doc: Person): DocChange => ({ put: doc });
  const open = (file: string) => new SqliteReadStore(file).collection<Person>('people', { indexes: ['keyHash'], cacheLookups: true });

  it('answers every look-up with what is committed after puts, deletes and removals by filter', async () => {
    const store = new SqliteReadStore(join(dir(), 'read.db'));
    const people = store.collection<Person>('people', { indexes: ['keyHash'], cacheLookups: true });
    await people.put({ id: 'p1', keyHash: 'old', name: 'Ada' });
    expect(await people.findOne({ keyHash: 'old' })).toEqual({ id: 'p1', keyHash: 'old', name: 'Ada' });
    expect((await people.get('p1'))?.name).toBe('Ada');
    // A new key (as a rotation writes it, through a projection's commit): the old one finds nobody at once.
    await store.commit([{ collection: 'people', changes: [put({ id: 'p1', keyHash: 'new', name: 'Ada' })] }]);
    expect(await people.findOne({ keyHash: 'old' })).toBeUndefined();
    expect((await people.findOne({ keyHash: 'new' }))?.id).toBe('p1');
    expect((await people.get('p1'))?.keyHash).toBe('new');
    await people.delete('p1');
    expect(await people.findOne({ keyHash: 'new' })).toBeUndefined();
    expect(await people.get('p1')).toBeUndefined();
    await people.put({ id: 'p2', keyHash: 'k2', name: 'Grace' });
    expect((await people.findOne({ keyHash: 'k2' }))?.id).toBe('p2');
    expect(await people.deleteMany({ name: 'Grace' })).toBe(1);
    expect(await people.findOne({ keyHash: 'k2' })).toBeUndefined();
    await store.commit([{ collection: 'people', changes: [put({ id: 'p3', keyHash: 'k3', name: 'Linus' })] }]);
    expect((await people.get('p3'))?.name).toBe('Linus');
    await store.commit([{ collection: 'people', changes: [{ deleteWhere: { keyHash: 'k3' } }] }]);
    expect(await people.get('p3')).toBeUndefined();
    await store.close();
  });

  it('hands out copies: changing a document it answered changes nothing kept', async () => {
    const store = new SqliteReadStore(join(dir(), 'read.db'));
    const people = store.collection<Person>('people', { cacheLookups: true });
    await people.put({ id: 'p1', keyHash: 'k', name: 'Ada' });
    const first = (await people.get('p1'))!;
    first.name = 'changed by a caller';
    expect((await people.get('p1'))?.name).toBe('Ada');
    await store.close();
  });

  it('keeps nothing of a commit that rolled back', async () => {
    const store = new SqliteReadStore(join(dir(), 'read.db'));
    const people = store.collection<Person>('people', { indexes: ['keyHash'], cacheLookups: true });
    await people.put({ id: 'p1', keyHash: 'k1', name: 'Ada' });
    expect((await people.findOne({ keyHash: 'k1' }))?.name).toBe('Ada');
    // The second change names a field that cannot exist: the whole commit, put included, rolls back.
    const failing = store.commit([{ collection: 'people', changes: [put({ id: 'p1', keyHash: 'k2', name: 'Eve' }), { deleteWhere: { 'no such field!': 1 } }] }]);
    await expect(failing).rejects.toThrow();
    expect((await people.findOne({ keyHash: 'k1' }))?.name).toBe('Ada');
    expect(await people.findOne({ keyHash: 'k2' })).toBeUndefined();
    await store.close();
  });

  it('sees what another connection to the file committed', async () => {
    const file = join(dir(), 'read.db');
    const mine = open(file);
    const theirs = open(file);
    await theirs.put({ id: 'p1', keyHash: 'k1', name: 'Ada' });
    expect((await mine.findOne({ keyHash: 'k1' }))?.name).toBe('Ada');
    expect((await mine.get('p1'))?.name).toBe('Ada');
    await theirs.put({ id: 'p1', keyHash: 'k2', name: 'Ada' });
    expect(await mine.findOne({ keyHash: 'k1' })).toBeUndefined();
    expect((await mine.get('p1'))?.keyHash).toBe('k2');
    await theirs.delete('p1');
    expect(await mine.get('p1')).toBeUndefined();
  });
});
