import { describe, expect, it } from 'vitest';
import {
  type AssetCommand,
  assetDecider,
  DEFAULT_MIME_TYPE,
  isAssetId,
  nextFileVersion,
  normalizeMimeType,
  recordedHash,
  validateFileName,
} from '../../src/assets/asset.aggregate.js';
import type { AssetEvent, AssetFile } from '../../src/assets/asset.events.js';
import { fold } from '../../src/eventsourcing/decider.js';
import { spec } from '../support/given-when-then.js';

const { given } = spec(assetDecider);
const createAsset = (assetId: string, file: AssetFile): AssetCommand => ({ type: 'CreateAsset', data: { assetId, file } });
const replaceAssetFile = (fileVersion: number, file: AssetFile): AssetCommand => ({ type: 'ReplaceAssetFile', data: { fileVersion, file } });
const deleteAsset: AssetCommand = { type: 'DeleteAsset', data: {} };

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
      given([]).when(createAsset(assetId, file('hello.txt', 'a'))).then([created]);
    });

    it('refuses to create an asset twice', () => {
      given([created]).when(createAsset(assetId, file('x.txt', 'd'))).thenThrows('conflict');
      given([created, deleted]).when(createAsset(assetId, file('x.txt', 'd'))).thenThrows('conflict');
    });

    it('refuses ids that could break stream names or blob keys', () => {
      for (const bad of ['a--b', 'a/b', '../x', '', 'a.b']) {
        given([]).when(createAsset(bad, file('x.txt', 'a'))).thenThrows('invalid');
      }
    });

    it('refuses file names that are empty, paths, too long or carry control characters', () => {
      for (const name of ['', '   ', 'a/b.txt', 'a\\b.txt', '..', 'bad\r\nname', 'nul\0', 'x'.repeat(256)]) {
        given([]).when(createAsset(assetId, file(name, 'a'))).thenThrows('invalid', /file/);
      }
      given([]).when(createAsset(assetId, file('ü'.repeat(255), 'a'))).then([
        { type: 'AssetCreated', data: { assetId, fileVersion: 0, ...file('ü'.repeat(255), 'a') } },
      ]);
    });

    it('refuses malformed media types, sizes and hashes', () => {
      given([]).when(createAsset(assetId, file('x', 'a', { mimeType: 'not a type' }))).thenThrows('invalid');
      given([]).when(createAsset(assetId, file('x', 'a', { fileSize: -1 }))).thenThrows('invalid');
      given([]).when(createAsset(assetId, file('x', 'a', { fileSize: 1.5 }))).thenThrows('invalid');
      given([]).when(createAsset(assetId, file('x', 'a', { sha256: 'abc' }))).thenThrows('invalid');
    });
  });

  describe('replace the file', () => {
    it('decides the next file version before the bytes are stored', () => {
      given([created]).ask(nextFileVersion).then(1);
      given([created, replaced1]).ask(nextFileVersion).then(2);
    });

    it('records the new file version', () => {
      given([created]).when(replaceAssetFile(1, file('hello.png', 'b', { mimeType: 'image/png', fileSize: 900 }))).then([replaced1]);
      given([created, replaced1])
        .when(replaceAssetFile(2, file('hello.pdf', 'c', { mimeType: 'application/pdf' })))
        .then([replaced2]);
    });

    it('refuses a file version that is not the next one (someone replaced it meanwhile)', () => {
      given([created, replaced1]).when(replaceAssetFile(1, file('x', 'd'))).thenThrows('conflict', /file version 1/);
      given([created]).when(replaceAssetFile(3, file('x', 'd'))).thenThrows('conflict');
    });

    it('does not replace the file of an unknown or deleted asset', () => {
      given([]).ask(nextFileVersion).thenThrows('not-found');
      given([created, deleted]).ask(nextFileVersion).thenThrows('not-found');
      given([]).when(replaceAssetFile(0, file('x', 'd'))).thenThrows('not-found');
      given([created, deleted]).when(replaceAssetFile(1, file('x', 'd'))).thenThrows('not-found');
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
