import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScratchKeys } from '../../src/archive/scratch-keys.js';
import { tempDir } from '../support/test-server.js';

describe('ScratchKeys: the keys a restore keeps per stream, in a temporary SQLite file', () => {
  const open: ScratchKeys[] = [];
  afterEach(() => {
    for (const keys of open.splice(0)) keys.close();
  });
  const make = (dir?: string) => {
    const keys = ScratchKeys.create(dir);
    open.push(keys);
    return keys;
  };

  it('adds keys to named sets, telling which were new, and keeps the sets apart', () => {
    const keys = make(tempDir('appvault-keys-'));
    expect(keys.add('a', 'x')).toBe(true);
    expect(keys.add('a', 'x')).toBe(false);
    expect(keys.add('b', 'x')).toBe(true);
    expect(keys.has('a', 'x')).toBe(true);
    expect(keys.has('a', 'y')).toBe(false);
    expect(keys.has('c', 'x')).toBe(false);
  });

  it('keeps a value per key, a later put replacing it; an added key reads as present', () => {
    const keys = make(tempDir('appvault-keys-'));
    keys.put('m', 'k', 'one');
    expect(keys.get('m', 'k')).toBe('one');
    keys.put('m', 'k', 'two');
    expect(keys.get('m', 'k')).toBe('two');
    expect(keys.get('m', 'other')).toBeUndefined();
    expect(keys.get('n', 'k')).toBeUndefined();
  });

  it('lists a set in order, in pages, across its commits (more keys than one commit holds), the empty key included', () => {
    const keys = make(tempDir('appvault-keys-'));
    const added = Array.from({ length: 12_345 }, (_, i) => `key-${String(i * 7919 % 12_345).padStart(6, '0')}`);
    for (const key of added) keys.add('big', key);
    keys.add('big', '');
    keys.add('other', 'key-000001x');
    const pages = [...keys.pages('big', 1000)];
    expect(pages.length).toBe(13);
    expect(pages.every((page) => page.length <= 1000)).toBe(true);
    expect(pages.flat()).toEqual(['', ...[...added].sort()]);
    expect([...keys.pages('none')]).toEqual([]);
  });

  it('removes its file on close, under the given folder or its own folder in the system temp folder', () => {
    const dir = tempDir('appvault-keys-');
    const keys = ScratchKeys.create(dir);
    keys.add('a', 'x');
    expect(readdirSync(dir).filter((name) => name.startsWith('scratch-keys-') && name.endsWith('.sqlite'))).toHaveLength(1);
    keys.close();
    keys.close();
    expect(readdirSync(dir)).toEqual([]);

    const before = new Set(readdirSync(tmpdir()));
    const own = ScratchKeys.create();
    const made = readdirSync(tmpdir()).filter((name) => name.startsWith('appvault-keys-') && !before.has(name));
    expect(made).toHaveLength(1);
    own.add('a', 'x');
    own.close();
    expect(existsSync(join(tmpdir(), made[0]!))).toBe(false);
  });
});
