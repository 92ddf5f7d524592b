import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { conflict, invalid, notFound } from '../platform/domain-errors.js';
import { SYSTEM_ACTOR } from '../auth/principal.js';
import { assetEntryName } from '../archive/archive-format.js';
import { defineStream, ruleProblem, type StoredOf } from '../eventsourcing/event-catalog.js';
import { controlCharacterProblem } from '../platform/text/control-characters.js';
import { ASSET_EVENTS, type AssetEvent, type AssetFile, type AssetReverted, FILE_NAME_MAX, MIME_TYPE, SHA256 } from './asset.events.js';

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
  | DomainCommand<'DeleteAsset', Record<string, never>>
  /** A rollback's: from the asset as a read shows it now (`current`) back to `target`, as it was then. */
  | DomainCommand<'RevertAsset', { current: AssetRecord; target: AssetRecord }>;

export const assetDecider: Decider<AssetState, AssetCommand, AssetEvent> = {
  initialState: () => ({ status: 'new', assetId: '', fileVersion: -1, fileHashes: [] }),
  decide: decideBy({
    CreateAsset: createAsset,
    ReplaceAssetFile: replaceAssetFile,
    DeleteAsset: deleteAsset,
    RevertAsset: revertAsset,
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

/**
 * Where a file version's bytes live in the blob store: one blob each, written once and never
 * changed (see AssetFilesService).
 */
export const assetFilesPrefix = (appId: string) => `assets/${appId}`;
export const assetFileKey = (appId: string, assetId: string, fileVersion: number) => `${assetFilesPrefix(appId)}/${assetId}/${fileVersion}`;

/** The file version an event introduces (AssetCreated, AssetFileReplaced), if it introduces one. */
export function fileVersionOf(event: AssetEvent, assetId: string): { assetId: string; fileVersion: number; sha256: string; mimeType: string } | undefined {
  if (event.type !== 'AssetCreated' && event.type !== 'AssetFileReplaced') return undefined;
  return { assetId, fileVersion: event.data.fileVersion, sha256: event.data.sha256, mimeType: event.data.mimeType };
}

type RecordedVersion = AssetReverted['data']['versions'][number];

/** An asset as a read shows it, folded from its events the way the assets projection folds them. */
export interface AssetRecord {
  live: boolean;
  current?: RecordedVersion;
  created: string;
  createdBy: string;
  versions: RecordedVersion[];
}

const NO_RECORD: AssetRecord = { live: false, created: '', createdBy: '', versions: [] };

function foldRecord(record: AssetRecord, stored: StoredOf<AssetEvent>): AssetRecord {
  const made = { created: stored.metadata.timestamp, createdBy: stored.metadata.actor };
  switch (stored.type) {
    case 'AssetCreated': {
      const { assetId: _id, ...file } = stored.data;
      const version = { ...file, ...made };
      return { live: true, current: version, ...made, versions: [version] };
    }
    case 'AssetFileReplaced': {
      const version = { ...stored.data, ...made };
      const versions = [...record.versions.filter((v) => v.fileVersion !== version.fileVersion), version].sort((a, b) => a.fileVersion - b.fileVersion);
      return { ...record, current: version, versions };
    }
    case 'AssetDeleted':
      return { ...record, live: false };
    case 'AssetReverted': {
      const { versions, created, createdBy, ...file } = stored.data;
      const current = versions.find((v) => v.fileVersion === file.fileVersion) ?? { ...file, ...made };
      return { live: true, current, created, createdBy, versions };
    }
  }
}

/**
 * An asset comes back at the file version it had, whose bytes are still stored (file versions are
 * never removed), listing the versions it had then; one created since is deleted.
 */
function revertAsset(_state: AssetState, { current, target }: CommandData<AssetCommand, 'RevertAsset'>): AssetEvent[] {
  if (!target.live || !target.current) return current.live ? [{ type: 'AssetDeleted', data: {} }] : [];
  if (current.live && JSON.stringify([current.current, current.versions]) === JSON.stringify([target.current, target.versions])) return [];
  const { created: _c, createdBy: _b, ...file } = target.current;
  return [{ type: 'AssetReverted', data: { ...file, created: target.created, createdBy: target.createdBy, versions: target.versions } }];
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
  place: 'entity',
  events: ASSET_EVENTS,
  decider: assetDecider,
  // A diff compares an asset's current file and lists the file versions (by SHA-256) one side has and the other lacks.
  diff: {
    report: 'assets',
    entries: (state, assetId) =>
      state.status === 'live' && state.file
        ? [
            {
              id: assetId,
              label: state.file.fileName,
              properties: { fileVersion: state.fileVersion, ...state.file },
              versions: Object.fromEntries(state.fileHashes.flatMap((sha256, version) => (sha256 ? [[String(version), sha256]] : []))),
            },
          ]
        : [],
  },
  // A rollback's event names who made each file version: users.json lists them, a restore maps them.
  users: {
    each: (event, visit) => {
      if (event.type !== 'AssetReverted') return;
      visit(event.data.createdBy);
      for (const version of event.data.versions) visit(version.createdBy);
    },
    map: (event, to) => {
      if (event.type !== 'AssetReverted') return event;
      const mapped = <V extends { createdBy: string }>(version: V): V => ({ ...version, createdBy: to(version.createdBy) });
      return { ...event, data: { ...mapped(event.data), versions: event.data.versions.map(mapped) } };
    },
  },
  // Every file version an event introduces is an entry of the archive (or listed there as missing).
  entries: (event, assetId) => {
    const file = fileVersionOf(event, assetId);
    return file ? [assetEntryName(assetId, file.fileVersion)] : [];
  },
  rollback: {
    report: 'assets',
    revert: (assetId, history, context) => {
      let state = assetDecider.initialState();
      let current = NO_RECORD;
      let target = current;
      for (const stored of history) {
        state = assetDecider.evolve(state, stored);
        current = foldRecord(current, stored);
        if (stored.position <= context.targetPosition) target = current;
      }
      const events = assetDecider.decide({ type: 'RevertAsset', data: { current, target } }, state);
      const reverted = events[0];
      if (!reverted) return undefined;
      if (reverted.type !== 'AssetReverted') return { change: 'deleted', label: assetId, events };
      const problem = `Asset ${assetId} cannot be brought back: the bytes of its file version ${reverted.data.fileVersion} are gone from the blob store`;
      return { change: current.live ? 'changed' : 'created', label: assetId, events, blobs: [{ key: assetFileKey(context.appId, assetId, reverted.data.fileVersion), problem }] };
    },
  },
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
