import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppsBackupHandler } from '../../apps/apps.backup-handler.js';
import { appStream } from '../../apps/app.aggregate.js';
import { AssetFilesService } from '../../assets/asset-files.service.js';
import { assetStream } from '../../assets/asset.aggregate.js';
import { AssetsBackupHandler } from '../../assets/assets.backup-handler.js';
import type { BackupHandler } from '../../backup/backup-handler.port.js';
import { contentStream } from '../../contents/content.aggregate.js';
import type { BlobStore, PutResult } from '../../infrastructure/blob-store/blob-store.port.js';
import type { EventWriter } from '../../platform/events/event-writer.service.js';
import { EventCatalog } from '../../platform/events/event-catalog.service.js';
import { purgeStream } from '../../platform/projection/purge.events.js';
import { schemaStream } from '../../schemas/schema.aggregate.js';
import { userStream } from '../../users/user.aggregate.js';
import { UsersBackupHandler } from '../../users/users.backup-handler.js';
import type { UsersService } from '../../users/users.service.js';

/**
 * The server's own event catalog and backup handlers, built without Nest, a database or a blob
 * store, so the offline archive commands check an archive exactly as a restore of this version
 * would. The handlers' services are stand-ins for the few calls a restore's checks make:
 *
 * - users: nobody exists yet, so every archived user is "created" (nothing is written) — what a
 *   restore into an empty installation does, with every users.json check on the way;
 * - asset files: written nowhere, only hashed, so each file version is still compared with the
 *   SHA-256 its event records (and the manifest's, by the archive reader);
 * - the event writer: used only after the last event (the Owner grant), which is not rehearsed.
 */
export interface OfflineInstallation {
  catalog: EventCatalog;
  handlers: readonly BackupHandler[];
}

/** Hashes what a restore would store, and keeps nothing. */
const hashingBlobStore: Pick<BlobStore, 'put'> = {
  async put(_key: string, source: Readable): Promise<PutResult> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      size += bytes.length;
      hash.update(bytes);
    }
    return { size, sha256: hash.digest('hex') };
  },
};

/** An installation without users: every archived user is new, and creating one writes nothing. */
const noUsers: Pick<UsersService, 'findByEmail' | 'createForRestore'> = {
  findByEmail: async () => undefined,
  createForRestore: async (userId, email, displayName) => ({ id: userId, email, displayName, admin: false, apiKeyHash: null, created: new Date(0).toISOString() }),
};

/** Anything else a handler reaches for is not part of the checks; it fails loudly instead of pretending. */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      throw new Error(`${what}.${String(property)} is not available offline`);
    },
  });
}

export function offlineInstallation(): OfflineInstallation {
  const catalog = new EventCatalog();
  // The same streams the domain modules register at start (and the projector's purge records).
  catalog.register(userStream);
  catalog.register(appStream);
  catalog.register(schemaStream);
  catalog.register(contentStream);
  catalog.register(assetStream);
  catalog.register(purgeStream);
  const handlers: BackupHandler[] = [
    // Narrowed stand-ins, widened for the constructors: the handlers call only what the Picks name.
    new UsersBackupHandler(noUsers as UsersService),
    new AppsBackupHandler(unavailable<EventWriter>('EventWriter')),
    new AssetsBackupHandler(new AssetFilesService(hashingBlobStore as BlobStore)),
  ];
  return { catalog, handlers };
}
