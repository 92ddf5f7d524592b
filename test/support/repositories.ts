import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { Test } from '@nestjs/testing';
import type { Manifest } from '../../src/archive/archive-format.js';
import { BackupsService } from '../../src/backup/create/backups.service.js';
import { archiveKey, type BackupCopy } from '../../src/backup/shared/backup-job.js';
import { InstallationService } from '../../src/backup/shared/installation.service.js';
import { BLOB_STORE, type BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import type { RepositoryStore } from '../../src/infrastructure/repository-store/repository-store.port.js';
import { COPY_FORMAT, COPY_FORMAT_VERSION, type CopyManifest, copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import {
  type OpenRepository,
  type RepositoryDefinition,
  RepositoryRegistry,
  UnknownRepositoryError,
} from '../../src/repositories/shared/repository-registry.port.js';
import { readZipBuffer } from './zip-inspect.js';
import { startComposedServer, type TestServer, tempDir } from './test-server.js';

/**
 * Repositories by name over real stores (a folder, a bucket on the S3 test server), bound into a
 * test server as its RepositoryRegistry: what an admin's configuration gives the server, without
 * the repositories API. Two servers given registries over the same folder or bucket are two
 * installations sharing a repository.
 */
export class TestRepositories extends RepositoryRegistry {
  private readonly byName = new Map<string, OpenRepository>();

  add(name: string, store: RepositoryStore): this {
    const definition: RepositoryDefinition = { id: `test-${name}`, name, type: store.kind, location: store.location, objectLock: null, appendOnly: store.capabilities.appendOnly };
    this.byName.set(name, { definition, store });
    return this;
  }

  async open(name: string): Promise<OpenRepository> {
    const found = this.byName.get(name);
    if (!found) throw new UnknownRepositoryError(name);
    return found;
  }

  async definitions(): Promise<RepositoryDefinition[]> {
    return [...this.byName.values()].map((r) => r.definition);
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((r) => r.store.close()));
  }
}

/** The real application (every module, real HTTP, its own DATA_DIR) with `registry` as its repositories. */
export function startServerWithRepositories(registry: RepositoryRegistry, env: Record<string, string> = {}, dataDir = tempDir()): Promise<TestServer> {
  return startComposedServer(env, dataDir, (root) => Test.createTestingModule({ imports: [root] }).overrideProvider(RepositoryRegistry).useValue(registry));
}

/**
 * Puts a Completed backup `server` made into `store` the way a copy lies in a repository
 * (copy-layout.ts): the archive, downloaded from the server, at its copy key, then the
 * CopyManifest beside it. Answers with the archive's key and bytes.
 */
export async function putCopy(server: TestServer, appName: string, backupId: string, store: RepositoryStore): Promise<{ key: string; archive: Buffer; manifest: CopyManifest }> {
  const backup = await server.admin.get(`/api/apps/${appName}/backups/${backupId}`);
  if (backup.status !== 200 || backup.body.status !== 'Completed') throw new Error(`backup ${backupId} is not a Completed backup: ${JSON.stringify(backup.body)}`);
  const download = await server.admin.bytes(`/api/apps/${appName}/backups/${backupId}/archive`);
  if (download.status !== 200) throw new Error(`downloading backup ${backupId} answered ${download.status}`);
  const archive = download.bytes;
  const key = copyArchiveKey(appName, backupId);
  const put = await store.put(key, Readable.from([archive]), { contentType: 'application/zip' });
  const inner = JSON.parse((await readZipBuffer(archive)).get('manifest.json')!.toString('utf8')) as Manifest;
  const b = backup.body;
  const manifest: CopyManifest = {
    format: COPY_FORMAT,
    version: COPY_FORMAT_VERSION,
    installation: await server.app.get(InstallationService).id(),
    backup: {
      id: b.id,
      appId: b.appId,
      appName: b.appName,
      label: b.label,
      created: b.created,
      completed: b.completed,
      partial: b.partial,
      eventCount: b.eventCount,
      assetCount: b.assetCount,
      userCount: b.userCount,
    },
    archive: { key, sizeBytes: put.size, sha256: put.sha256 },
    manifest: inner,
  };
  await store.put(copyManifestKey(key), Readable.from([Buffer.from(JSON.stringify(manifest))]), { contentType: 'application/json' });
  return { key, archive, manifest };
}

/**
 * Records copies on a backup and removes its archive from the archive store: what the copy step
 * and then retention leave (a backup whose bytes are only in repositories), written straight
 * into the server's real stores.
 */
export async function keepOnlyCopies(server: TestServer, backupId: string, copies: Pick<BackupCopy, 'repository' | 'key' | 'sizeBytes' | 'sha256'>[]): Promise<void> {
  const jobs = server.app.get(BackupsService).jobs;
  const job = await jobs.require(backupId);
  const at = job.completed ?? job.created;
  await jobs.put({ ...job, copies: copies.map((copy) => ({ ...copy, written: at, verified: at, lockedUntil: null, error: null })) });
  await server.app.get<BlobStore>(BLOB_STORE).delete(archiveKey(backupId));
}

/**
 * Three folder repositories added as an admin adds them (POST /api/repositories): `nas`, `vault`
 * (append-only) and `unplugged`, whose folder is removed once it was added (an unmounted share),
 * so copies to it fail. Answers with the folders.
 */
export async function addFolderRepositories(server: TestServer): Promise<{ nas: string; vault: string; gone: string }> {
  const folders = { nas: tempDir('appvault-nas-'), vault: tempDir('appvault-vault-'), gone: tempDir('appvault-gone-') };
  for (const body of [
    { name: 'nas', type: 'filesystem', path: folders.nas },
    { name: 'vault', type: 'filesystem', path: folders.vault, appendOnly: true },
    { name: 'unplugged', type: 'filesystem', path: folders.gone },
  ]) {
    const made = await server.admin.post('/api/repositories', body);
    if (made.status !== 201) throw new Error(`adding repository ${body.name} answered ${made.status}: ${JSON.stringify(made.body)}`);
  }
  rmSync(folders.gone, { recursive: true });
  return folders;
}
