import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { COPY_FORMAT, copyArchiveKey, type CopyManifest, WHOLE_COPY_VERSION } from '../../src/repositories/shared/copy-layout.js';

/** Copies as another installation leaves them in a repository, for the listing tests. */
export const sha = 'a'.repeat(64);

/** A copy manifest as an installation writes it beside a copy (copy-layout.ts). */
export function copyManifest(installation: string, appName: string, backupId: string, overrides: Partial<CopyManifest['backup']> = {}): CopyManifest {
  const key = copyArchiveKey(appName, backupId);
  return {
    format: COPY_FORMAT,
    version: WHOLE_COPY_VERSION,
    installation,
    backup: {
      id: backupId,
      appId: randomUUID(),
      appName,
      label: 'nightly',
      created: '2026-01-02T03:00:00.000Z',
      completed: '2026-01-02T03:00:05.000Z',
      partial: false,
      eventCount: 12,
      assetCount: 2,
      userCount: 1,
      ...overrides,
    },
    archive: { key, sizeBytes: 4321, sha256: sha },
    manifest: {
      format: 'appvault-backup',
      formatVersion: 1,
      app: { id: 'x', name: appName },
      created: '2026-01-02T03:00:00.000Z',
      source: { installationId: installation, eventStore: 'sqlite', position: 12 },
      counts: { events: 12, eventFiles: 1, assets: 2, users: 1 },
      missing: [],
      warnings: [],
      entries: [],
    },
  };
}

export const put = (store: { put(key: string, source: Readable): Promise<unknown> }, key: string, bytes: Buffer | string) => store.put(key, Readable.from([Buffer.from(bytes)]));

