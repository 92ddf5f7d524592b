import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { conflict, invalid, notFound } from '../platform/domain-errors.js';
import { SYSTEM_ACTOR } from '../platform/auth/principal.js';
import { defineStream, ruleProblem } from '../eventsourcing/event-catalog.js';
import { controlCharacterProblem } from '../platform/text/control-characters.js';
import { ASSET_EVENTS, type AssetEvent, type AssetFile, FILE_NAME_MAX, MIME_TYPE, SHA256 } from './asset.events.js';

export interface AssetState {
  status: 'new' | 'live' | 'deleted';
  assetId: string;
  /** -1 until the asset exists. */
  fileVersion: number;
  file?: AssetFile;
  /** SHA-256 of every file version, indexed by file version: tells an upload that made it into history from one that did not. */
  fileHashes: string[];
}

/**
 * What asset commands ask. A file's bytes are stored before the decision (see nextFileVersion), so
 * the commands name a file that is already safe: its size and SHA-256 as stored.
 */
export type AssetCommand =
  | DomainCommand<'CreateAsset', { assetId: string; file: AssetFile }>
  | DomainCommand<'ReplaceAssetFile', { fileVersion: number; file: AssetFile }>
  | DomainCommand<'DeleteAsset', Record<string, never>>;

export const assetDecider: Decider<AssetState, AssetCommand, AssetEvent> = {
  initialState: () => ({ status: 'new', assetId: '', fileVersion: -1, fileHashes: [] }),
  decide: decideBy({
    CreateAsset: createAsset,
    ReplaceAssetFile: replaceAssetFile,
    DeleteAsset: deleteAsset,
  }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'AssetCreated': {
        const { assetId, fileVersion, ...file } = event.data;
        return { status: 'live', assetId, fileVersion, file, fileHashes: [file.sha256] };
      }
      case 'AssetFileReplaced': {
        const { fileVersion, ...file } = event.data;
        const fileHashes = [...state.fileHashes];
        fileHashes[fileVersion] = file.sha256;
        return { ...state, fileVersion, file, fileHashes };
      }
      case 'AssetDeleted':
        return { ...state, status: 'deleted' };
      case 'AssetReverted': {
        const { fileVersion, fileName, mimeType, fileSize, sha256 } = event.data;
        return { ...state, status: 'live', fileVersion, file: { fileName, mimeType, fileSize, sha256 } };
      }
    }
  },
};

/** Ids become stream names and blob key segments, so they may not contain `--`, slashes or dots. */
const ASSET_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/i;
export const isAssetId = (id: string): boolean => id.length <= 64 && ASSET_ID.test(id);

export { FILE_NAME_MAX };
export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/** Reduces a client's Content-Type to `type/subtype`; anything unusable becomes application/octet-stream. */
export function normalizeMimeType(value: string | undefined): string {
  const bare = (value ?? '').split(';')[0]!.trim().toLowerCase();
  return MIME_TYPE.test(bare) ? bare : DEFAULT_MIME_TYPE;
}

/**
 * File names end up in Content-Disposition headers and in other people's file systems, so
 * control characters (header injection) and path separators are refused rather than mangled.
 */
export function validateFileName(fileName: string): string {
  if (fileName.trim() === '') throw invalid('file: the file needs a name (the filename of the multipart part)');
  if ([...fileName].length > FILE_NAME_MAX) throw invalid(`file: the file name is longer than ${FILE_NAME_MAX} characters`);
  const control = controlCharacterProblem(fileName);
  if (control) throw invalid(`file: the file name ${control}`);
  if (/[/\\]/.test(fileName) || fileName === '.' || fileName === '..') throw invalid('file: the file name must not be a path');
  return fileName;
}

function validateFile(file: AssetFile): AssetFile {
  validateFileName(file.fileName);
  if (!MIME_TYPE.test(file.mimeType)) throw invalid(`file: "${file.mimeType}" is not a media type like image/png`);
  if (!Number.isSafeInteger(file.fileSize) || file.fileSize < 0) throw invalid(`file: size ${file.fileSize} is not a byte count`);
  if (!SHA256.test(file.sha256)) throw invalid('file: sha256 must be 64 lowercase hex digits');
  return { fileName: file.fileName, mimeType: file.mimeType, fileSize: file.fileSize, sha256: file.sha256 };
}

function live(state: AssetState): void {
  if (state.status !== 'live') throw notFound('The asset does not exist');
}

function createAsset(state: AssetState, c: CommandData<AssetCommand, 'CreateAsset'>): AssetEvent[] {
  if (state.status !== 'new') throw conflict(`Asset ${c.assetId} exists already`);
  if (!isAssetId(c.assetId)) throw invalid(`Asset id "${c.assetId}" is not valid`);
  return [{ type: 'AssetCreated', data: { assetId: c.assetId, fileVersion: 0, ...validateFile(c.file) } }];
}

/** The file version a replacement will get; decided before its bytes are stored, as it names their blob. */
export function nextFileVersion(state: AssetState): number {
  live(state);
  // After a rollback the current version may be an older one: numbers are never given twice.
  return state.fileHashes.length;
}

function replaceAssetFile(state: AssetState, c: CommandData<AssetCommand, 'ReplaceAssetFile'>): AssetEvent[] {
  live(state);
  if (c.fileVersion !== state.fileHashes.length) {
    throw conflict(`The asset's file changed meanwhile (it is at file version ${state.fileVersion}); upload again`);
  }
  return [{ type: 'AssetFileReplaced', data: { fileVersion: c.fileVersion, ...validateFile(c.file) } }];
}

function deleteAsset(state: AssetState): AssetEvent[] {
  live(state);
  return [{ type: 'AssetDeleted', data: {} }];
}

/** The SHA-256 history records for a file version, or undefined when no event names it. */
export function recordedHash(state: AssetState, fileVersion: number): string | undefined {
  return state.fileHashes[fileVersion];
}

/**
 * The asset stream in the event catalog: archived events pass the rules the asset commands apply
 * (file version 0 on create, one more with each replacement, nothing after a delete).
 */
export const assetStream = defineStream<AssetState, AssetEvent>({
  kind: 'asset',
  events: ASSET_EVENTS,
  decider: assetDecider,
  check: (state, event, context) => {
    switch (event.type) {
      case 'AssetCreated': {
        const { assetId, fileVersion: _zero, ...file } = event.data;
        if (assetId !== context.entityId) return `its assetId ${assetId} is not the id of its stream (${context.entityId})`;
        return ruleProblem(() => createAsset(state, { assetId, file }));
      }
      case 'AssetFileReplaced': {
        const { fileVersion, ...file } = event.data;
        return ruleProblem(() => replaceAssetFile(state, { fileVersion, file }));
      }
      case 'AssetDeleted':
        return ruleProblem(() => deleteAsset(state));
      case 'AssetReverted': {
        if (state.status === 'new') return 'the asset does not exist at this point; AssetCreated must come first';
        for (const version of [event.data, ...event.data.versions]) {
          if (state.fileHashes[version.fileVersion] !== version.sha256) return `file version ${version.fileVersion} is not one the asset has had with SHA-256 ${version.sha256}`;
          if (version.createdBy !== SYSTEM_ACTOR && !context.knowsUser(version.createdBy)) return `user ${version.createdBy} is not in users.json`;
        }
        return undefined;
      }
    }
  },
});
