import { describe, expect, it } from 'vitest';
import { checkChain } from '../../src/archive/archive-chain.js';
import type { Manifest } from '../../src/archive/archive-format.js';

const SHA = (c: string) => c.repeat(64);

/** A manifest as a backup of app A at `position` would write it, holding `events` events, continuing `base` when given. */
function manifest(id: string, position: number, events: number, base?: Manifest['base'], app = 'A'): Manifest {
  return {
    format: 'appvault-backup',
    formatVersion: 1,
    app: { id: app, name: 'shop' },
    created: '2026-12-07T00:00:00.000Z',
    source: { installationId: 'I', eventStore: 'sqlite', position },
    backupId: id,
    ...(base ? { base } : {}),
    counts: { events, eventFiles: events > 0 ? 1 : 0, assets: 0, users: 1 },
    missing: [],
    warnings: [],
    entries: [],
  };
}

describe('checkChain', () => {
  const full = { manifest: manifest('f', 100, 40), storedSha256: SHA('a'), label: 'full.zip' };
  const first = { manifest: manifest('i1', 130, 5, { backupId: 'f', sha256: SHA('a'), position: 100, events: 40 }), storedSha256: SHA('b'), label: 'i1.zip' };
  const second = { manifest: manifest('i2', 150, 0, { backupId: 'i1', sha256: SHA('b'), position: 130, events: 45 }), storedSha256: SHA('c'), label: 'i2.zip' };

  it('accepts a full archive alone and a whole chain, an empty increment included', () => {
    expect(() => checkChain([full])).not.toThrow();
    expect(() => checkChain([full, first, second])).not.toThrow();
  });

  it('refuses each broken link, naming it', () => {
    expect(() => checkChain([first])).toThrow('The base backup f of this incremental is missing (i1.zip continues it)');
    expect(() => checkChain([full, second])).toThrow('The base backup i1 of this incremental is missing: i2.zip continues backup i1, but the archive before it is backup f');
    expect(() => checkChain([{ ...full, storedSha256: SHA('d') }, first])).toThrow(`The base backup f of this incremental (full.zip) has been altered: its SHA-256 differs (${SHA('d')}, the incremental names ${SHA('a')})`);
    expect(() => checkChain([{ ...full, manifest: manifest('f', 99, 40) }, first])).toThrow('i1.zip does not continue full.zip where it ends: its base ends at position 100, the base archive at 99');
    expect(() => checkChain([{ ...full, manifest: manifest('f', 100, 41) }, first])).toThrow('i1.zip numbers its events on from 40, but the chain before it holds 41');
    expect(() => checkChain([full, { ...first, manifest: manifest('i1', 130, 5, first.manifest.base, 'B') }])).toThrow('i1.zip is of app B, its base full.zip of app A; a chain is of one app');
    expect(() => checkChain([full, full])).toThrow('full.zip is a full archive, not an incremental of full.zip');
  });

  it('ties a base written before archives named themselves by its SHA-256 alone', () => {
    const { backupId: _id, ...old } = full.manifest;
    expect(() => checkChain([{ ...full, manifest: old }, first])).not.toThrow();
    expect(() => checkChain([{ ...full, manifest: old, storedSha256: SHA('e') }, first])).toThrow('has been altered');
  });
});
