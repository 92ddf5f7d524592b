import { describe, expect, it } from 'vitest';
import {
  assetDecider,
  type AssetState,
  createAsset,
  DEFAULT_MIME_TYPE,
  deleteAsset,
  isAssetId,
  nextFileVersion,
  normalizeMimeType,
  recordedHash,
  replaceAssetFile,
  validateFileName,
} from '../../src/assets/asset.aggregate.js';
import type { AssetEvent, AssetFile } from '../../src/assets/asset.events.js';
import { DomainError, type DomainErrorKind } from '../../src/platform/domain-errors.js';
import { fold } from '../../src/eventsourcing/decider.js';

/** Given past events, when a decision runs on the folded state, then these events (or this error). */
const given = (events: AssetEvent[]) => ({
  when: <T>(decide: (state: AssetState) => T) => ({
    then: (expected: T) => expect(decide(fold(assetDecider, events))).toEqual(expected),
    thenThrows: (kind: DomainErrorKind, message?: RegExp) => {
      let caught: unknown;
      try {
        decide(fold(assetDecider, events));
      } catch (error) {
        caught = error;
      }
      expect(caught, 'the decision should have failed').toBeInstanceOf(DomainError);
      expect((caught as DomainError).kind).toBe(kind);
      if (message) expect((caught as DomainError).message).toMatch(message);
    },
  }),
});

const hash = (c: string) => c.repeat(64);
const file = (name: string, c: string, extra: Partial<AssetFile> = {}): AssetFile => ({ fileName: name, mimeType: 'text/plain', fileSize: 5, sha256: hash(c), ...extra });

const assetId = 'a1b2c3d4-0000-4000-8000-000000000001';
const created: AssetEvent = { type: 'AssetCreated', data: { assetId, fileVersion: 0, ...file('hello.txt', 'a') } };
const replaced1: AssetEvent = { type: 'AssetFileReplaced', data: { fileVersion: 1, ...file('hello.png', 'b', { mimeType: 'image/png', fileSize: 900 }) } };
const replaced2: AssetEvent = { type: 'AssetFileReplaced', data: { fileVersion: 2, ...file('hello.pdf', 'c', { mimeType: 'application/pdf' }) } };
const deleted: AssetEvent = { type: 'AssetDeleted', data: {} };

describe('asset aggregate', () => {
  describe('create', () => {
    it('creates an asset at file version 0', () => {
      given([]).when((s) => createAsset(s, { assetId, file: file('hello.txt', 'a') })).then([created]);
    });

    it('refuses to create an asset twice', () => {
      given([created]).when((s) => createAsset(s, { assetId, file: file('x.txt', 'd') })).thenThrows('conflict');
      given([created, deleted]).when((s) => createAsset(s, { assetId, file: file('x.txt', 'd') })).thenThrows('conflict');
    });

    it('refuses ids that could break stream names or blob keys', () => {
      for (const bad of ['a--b', 'a/b', '../x', '', 'a.b']) {
        given([]).when((s) => createAsset(s, { assetId: bad, file: file('x.txt', 'a') })).thenThrows('invalid');
      }
    });

    it('refuses file names that are empty, paths, too long or carry control characters', () => {
      for (const name of ['', '   ', 'a/b.txt', 'a\\b.txt', '..', 'bad\r\nname', 'nul\0', 'x'.repeat(256)]) {
        given([]).when((s) => createAsset(s, { assetId, file: file(name, 'a') })).thenThrows('invalid', /file/);
      }
      given([]).when((s) => createAsset(s, { assetId, file: file('ü'.repeat(255), 'a') })).then([
        { type: 'AssetCreated', data: { assetId, fileVersion: 0, ...file('ü'.repeat(255), 'a') } },
      ]);
    });

    it('refuses malformed media types, sizes and hashes', () => {
      given([]).when((s) => createAsset(s, { assetId, file: file('x', 'a', { mimeType: 'not a type' }) })).thenThrows('invalid');
      given([]).when((s) => createAsset(s, { assetId, file: file('x', 'a', { fileSize: -1 }) })).thenThrows('invalid');
      given([]).when((s) => createAsset(s, { assetId, file: file('x', 'a', { fileSize: 1.5 }) })).thenThrows('invalid');
      given([]).when((s) => createAsset(s, { assetId, file: file('x', 'a', { sha256: 'abc' }) })).thenThrows('invalid');
    });
  });

  describe('replace the file', () => {
    it('decides the next file version before the bytes are stored', () => {
      given([created]).when(nextFileVersion).then(1);
      given([created, replaced1]).when(nextFileVersion).then(2);
    });

    it('records the new file version', () => {
      given([created]).when((s) => replaceAssetFile(s, { fileVersion: 1, file: file('hello.png', 'b', { mimeType: 'image/png', fileSize: 900 }) })).then([replaced1]);
      given([created, replaced1])
        .when((s) => replaceAssetFile(s, { fileVersion: 2, file: file('hello.pdf', 'c', { mimeType: 'application/pdf' }) }))
        .then([replaced2]);
    });

    it('refuses a file version that is not the next one (someone replaced it meanwhile)', () => {
      given([created, replaced1]).when((s) => replaceAssetFile(s, { fileVersion: 1, file: file('x', 'd') })).thenThrows('conflict', /file version 1/);
      given([created]).when((s) => replaceAssetFile(s, { fileVersion: 3, file: file('x', 'd') })).thenThrows('conflict');
    });

    it('does not replace the file of an unknown or deleted asset', () => {
      given([]).when(nextFileVersion).thenThrows('not-found');
      given([created, deleted]).when(nextFileVersion).thenThrows('not-found');
      given([]).when((s) => replaceAssetFile(s, { fileVersion: 0, file: file('x', 'd') })).thenThrows('not-found');
      given([created, deleted]).when((s) => replaceAssetFile(s, { fileVersion: 1, file: file('x', 'd') })).thenThrows('not-found');
    });
  });

  describe('delete', () => {
    it('deletes a live asset', () => {
      given([created, replaced1]).when(deleteAsset).then([deleted]);
    });

    it('does not delete an unknown or already deleted asset', () => {
      given([]).when(deleteAsset).thenThrows('not-found');
      given([created, deleted]).when(deleteAsset).thenThrows('not-found');
    });
  });

  describe('state', () => {
    it('knows which bytes history records for each file version', () => {
      const state = fold(assetDecider, [created, replaced1, replaced2]);
      expect(state).toMatchObject({ status: 'live', assetId, fileVersion: 2, file: file('hello.pdf', 'c', { mimeType: 'application/pdf' }) });
      expect([0, 1, 2, 3].map((v) => recordedHash(state, v))).toEqual([hash('a'), hash('b'), hash('c'), undefined]);
      // Deleted assets keep their history: a backup still needs every version.
      expect(recordedHash(fold(assetDecider, [created, replaced1, deleted]), 1)).toBe(hash('b'));
    });
  });
});

describe('asset input rules', () => {
  it('reduces media types to type/subtype and falls back to application/octet-stream', () => {
    expect(normalizeMimeType('image/PNG')).toBe('image/png');
    expect(normalizeMimeType('text/plain; charset=utf-8')).toBe('text/plain');
    expect(normalizeMimeType('application/vnd.api+json')).toBe('application/vnd.api+json');
    for (const bad of [undefined, '', 'nonsense', 'a/b/c', 'image/', '/png', 'te xt/plain', 'text/plain\r\nX-Evil: 1']) {
      expect(normalizeMimeType(bad), String(bad)).toBe(DEFAULT_MIME_TYPE);
    }
  });

  it('accepts ordinary file names unchanged', () => {
    for (const name of ['report.pdf', 'Résumé "final" (2).docx', '日本語.txt', '.env', 'no-extension']) expect(validateFileName(name)).toBe(name);
  });

  it('recognizes asset ids', () => {
    expect(isAssetId('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(true);
    for (const bad of ['', 'a--b', '-a', 'a-', 'a_b', 'a'.repeat(65), '../etc']) expect(isAssetId(bad), bad).toBe(false);
  });
});
