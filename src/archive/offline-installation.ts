import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppsBackupHandler } from '../apps/apps.backup-handler.js';
import { appStream } from '../apps/app.aggregate.js';
import { AssetFilesService } from '../assets/asset-files.service.js';
import { assetStream } from '../assets/asset.aggregate.js';
import { ContentsBackupHandler } from '../contents/contents.backup-handler.js';
import type { ContentsProjection } from '../contents/contents.projection.js';
import { AssetsBackupHandler } from '../assets/assets.backup-handler.js';
import type { BackupHandler } from '../backup/backup-handler.port.js';
import { contentStream } from '../contents/content.aggregate.js';
import type { BlobStore, PutResult } from '../infrastructure/blob-store/blob-store.port.js';
import type { EventWriter } from '../eventsourcing/event-writer.service.js';
import { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { purgeStream } from '../eventsourcing/purge.events.js';
import { schemaStream } from '../schemas/schema.aggregate.js';
import { userStream } from '../users/user.aggregate.js';
import { UsersBackupHandler } from '../users/users.backup-handler.js';
import type { UsersService } from '../users/users.service.js';

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
  /** The archived users, by email: those the lookup knew (a restore maps them) and the rest (it creates them). */
  users: { mapped: string[]; created: string[] };
}

/** Finds a user of the installation a restore would go to; offline there is none. */
export type UserLookup = Pick<UsersService, 'findByEmail'>['findByEmail'];

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
function usersOf(lookup: UserLookup, seen: OfflineInstallation['users']): Pick<UsersService, 'findByEmail' | 'createForRestore'> {
  return {
    findByEmail: async (email) => {
      const user = await lookup(email);
      if (user) seen.mapped.push(user.email);
      return user;
    },
    createForRestore: async (userId, email, displayName) => {
      seen.created.push(email);
      return { id: userId, email, displayName, admin: false, apiKeyHash: null, created: new Date(0).toISOString() };
    },
  };
}

/** Anything else a handler reaches for is not part of the checks; it fails loudly instead of pretending. */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      throw new Error(`${what}.${String(property)} is not available offline`);
    },
  });
}

export function offlineInstallation(lookup: UserLookup = async () => undefined): OfflineInstallation {
  const users: OfflineInstallation['users'] = { mapped: [], created: [] };
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
    new UsersBackupHandler(usersOf(lookup, users) as UsersService),
    new AppsBackupHandler(unavailable<EventWriter>('EventWriter')),
    new AssetsBackupHandler(new AssetFilesService(hashingBlobStore as BlobStore)),
    // Restores only fold what the events say (dangling references); the read model is never asked.
    new ContentsBackupHandler(unavailable<ContentsProjection>('ContentsProjection')),
  ];
  return { catalog, handlers, users };
}
