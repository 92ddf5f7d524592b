import { z } from 'zod';
import { defineEvent, entityId, type EventOf } from '../eventsourcing/event-catalog.js';
import { singleLine } from '../platform/text/plain-text.checks.js';

export const FILE_NAME_MAX = 255;
export const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
export const SHA256 = /^[0-9a-f]{64}$/;
/** File versions count from 0; a billion replacements of one file is beyond any real use. */
export const MAX_FILE_VERSION = 999_999_999;

/** File names end up in Content-Disposition headers and in other people's file systems. */
const fileName = z
  .string()
  .min(1, 'must not be empty')
  .refine((name) => [...name].length <= FILE_NAME_MAX, `must be at most ${FILE_NAME_MAX} characters`)
  .check(singleLine())
  .refine((name) => !/[/\\]/.test(name) && name !== '.' && name !== '..', 'must not be a path');

const file = {
  fileName,
  mimeType: z.string().regex(MIME_TYPE, 'must be a media type like image/png'),
  fileSize: z.number().int('must be a whole number of bytes').min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(SHA256, 'must be 64 lowercase hex digits'),
};
const fileVersion = z.number().int('must be a whole number').min(0).max(MAX_FILE_VERSION);

/**
 * Persisted names: stable strings, never renamed. All live in the stream `asset-{appId}--{assetId}`.
 * Each file version's bytes sit in the blob store under `assets/{appId}/{assetId}/{fileVersion}`;
 * `sha256` and `fileSize` describe exactly those bytes, so backups and restores can check them.
 */
export const AssetCreatedEvent = defineEvent('AssetCreated', z.strictObject({ assetId: entityId(), fileVersion: z.literal(0, 'must be 0 for a new asset'), ...file }));
export const AssetFileReplacedEvent = defineEvent('AssetFileReplaced', z.strictObject({ fileVersion, ...file }));
/** Removes the asset from reads; its file versions stay in the blob store (see AssetFilesService). */
export const AssetDeletedEvent = defineEvent('AssetDeleted', z.strictObject({}));

const recordedVersion = z.strictObject({ fileVersion, ...file, created: z.iso.datetime({ offset: true }), createdBy: entityId() });

/**
 * A rollback brought the asset back to its state at an earlier point: live (undeleted, if it was
 * deleted since), at file version `fileVersion` (an existing one, whose bytes are still stored),
 * listing the file versions it had then. Later versions keep their bytes, and a new replacement
 * still gets a number no version ever had.
 */
export const AssetRevertedEvent = defineEvent(
  'AssetReverted',
  z.strictObject({ fileVersion, ...file, created: z.iso.datetime({ offset: true }), createdBy: entityId(), versions: z.array(recordedVersion).min(1).max(MAX_FILE_VERSION) }),
);

export const ASSET_EVENTS = [AssetCreatedEvent, AssetFileReplacedEvent, AssetDeletedEvent, AssetRevertedEvent] as const;

// A type alias, not an interface: event payloads must be assignable to Record<string, unknown>.
export type AssetFile = {
  fileName: string;
  mimeType: string;
  fileSize: number;
  sha256: string;
};

export type AssetCreated = EventOf<typeof AssetCreatedEvent>;
export type AssetFileReplaced = EventOf<typeof AssetFileReplacedEvent>;
export type AssetDeleted = EventOf<typeof AssetDeletedEvent>;
export type AssetReverted = EventOf<typeof AssetRevertedEvent>;

export type AssetEvent = AssetCreated | AssetFileReplaced | AssetDeleted | AssetReverted;
