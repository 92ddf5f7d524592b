import type { DomainEvent } from '../platform/events/decider.js';

/**
 * Persisted names: stable strings, never renamed. All live in the stream `asset-{appId}--{assetId}`.
 * Each file version's bytes sit in the blob store under `assets/{appId}/{assetId}/{fileVersion}`;
 * `sha256` and `fileSize` describe exactly those bytes, so backups and restores can check them.
 */
// A type alias, not an interface: event payloads must be assignable to Record<string, unknown>.
export type AssetFile = {
  fileName: string;
  mimeType: string;
  fileSize: number;
  sha256: string;
};

export type AssetCreated = DomainEvent<'AssetCreated', { assetId: string; fileVersion: 0 } & AssetFile>;
export type AssetFileReplaced = DomainEvent<'AssetFileReplaced', { fileVersion: number } & AssetFile>;
/** Removes the asset from reads; its file versions stay in the blob store (see AssetFilesService). */
export type AssetDeleted = DomainEvent<'AssetDeleted', Record<string, never>>;

export type AssetEvent = AssetCreated | AssetFileReplaced | AssetDeleted;
