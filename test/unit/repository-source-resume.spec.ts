import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilesystemRepositoryStore } from '../../src/infrastructure/repository-store/filesystem-repository-store.adapter.js';
import type { RepositoryStore } from '../../src/infrastructure/repository-store/repository-store.port.js';
import { S3RepositoryStore } from '../../src/infrastructure/repository-store/s3-repository-store.adapter.js';
import { archiveOnDisk } from '../../src/backup/restore/archive-source.js';
import type { DownloadValidator } from '../../src/backup/restore/restore-job.js';
import { BackupArchives } from '../../src/backup/shared/archive-locations.js';
import type { BackupJob } from '../../src/backup/shared/backup-job.js';
import type { AppConfig } from '../../src/config/app-config.js';
import type { BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { ResumeRefusedError } from '../../src/backup/restore/restore-resumption.js';
import { stageRepositoryArchive } from '../../src/backup/restore/repository-source.js';
import { copyArchiveKey, copyManifestKey } from '../../src/repositories/shared/copy-layout.js';
import { type RepositoryDefinition, RepositoryRegistry, type OpenRepository } from '../../src/repositories/shared/repository-registry.port.js';
import { copyManifest, put } from '../support/copy-manifests.js';
import { inCi, S3TestBuckets, s3TestEnv, testConfig } from '../support/s3-test-buckets.js';
import { tempDir } from '../support/test-server.js';

/** One repository, as the registry opens it. */
class OneRepository extends RepositoryRegistry {
  constructor(private readonly repository: OpenRepository) {
    super();
  }
  async open(): Promise<OpenRepository> {
    return this.repository;
  }
  async definitions(): Promise<RepositoryDefinition[]> {
    return [this.repository.definition];
  }
}

const definition = (store: RepositoryStore): RepositoryDefinition => ({ id: randomUUID(), name: 'offsite', type: store.kind, location: store.location, objectLock: null, appendOnly: false });
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * A download of a repository's copy cut short (a process killed half way): what is on disk is the
 * copy's first bytes, and the job kept the validator noted before the first byte was written.
 */
function repositoryResumeCases(kind: string, makeStore: () => Promise<RepositoryStore>): void {
  describe(`a restore's download of a copy in a ${kind} repository`, () => {
    const archive = randomBytes(3 * 1024 * 1024 + 17);
    const key = copyArchiveKey('shop', randomUUID());

    const setUp = async (bytes: Buffer) => {
      const store = await makeStore();
      await put(store, key, bytes);
      const manifest = copyManifest('other-installation', 'shop', key.split('/').at(-1)!.replace('.zip', ''));
      await put(store, copyManifestKey(key), JSON.stringify({ ...manifest, archive: { key, sizeBytes: bytes.length, sha256: sha256(bytes) } }));
      return { store, registry: new OneRepository({ store, definition: definition(store) }) };
    };
    /** A first attempt: notes the validator and writes the whole copy; returns both. */
    const firstAttempt = async (registry: RepositoryRegistry, file: string) => {
      const noted: DownloadValidator[] = [];
      const lines: string[] = [];
      await stageRepositoryArchive(registry, { repository: 'offsite', key }, file, {
        maxBytes: 1 << 30,
        log: async (line) => void lines.push(line),
        download: { onValidator: async (validator) => void noted.push(validator) },
      });
      expect(noted).toHaveLength(1);
      return { validator: noted[0]!, lines };
    };

    it('notes the copy’s validator before writing, continues from the bytes it has (a range read), and checks the whole file’s SHA-256', async () => {
      const { registry } = await setUp(archive);
      const dir = tempDir();
      const file = join(dir, 'restore-x.zip');
      const { validator } = await firstAttempt(registry, file);
      expect(validator.size).toBe(archive.length);
      expect(readFileSync(file).equals(archive)).toBe(true);

      // Killed half way: the first half is on disk.
      const half = 1_500_001;
      writeFileSync(file, archive.subarray(0, half));
      const lines: string[] = [];
      const result = await stageRepositoryArchive(registry, { repository: 'offsite', key }, file, {
        maxBytes: 1 << 30,
        log: async (line) => void lines.push(line),
        download: { validator, onValidator: async () => expect.unreachable('a resume keeps the first validator') },
      });
      expect(result).toEqual({ bytes: archive.length, sha256: sha256(archive), resumedAt: half });
      expect(readFileSync(file).equals(archive)).toBe(true);
      expect(lines).toContain(`Continuing the interrupted download of "${key}" in repository "offsite" from byte ${half} of ${archive.length}`);
      expect(lines.at(-1)).toBe(`Read ${archive.length} bytes, continuing from byte ${half} where the interrupted download stopped, SHA-256 as in the copy manifest`);

      // A first half that is not the copy's (damaged on disk) fails the SHA-256 check, and the file is removed.
      const wrong = Buffer.from(archive.subarray(0, half));
      wrong[10] = wrong[10]! ^ 0xff;
      writeFileSync(file, wrong);
      await expect(
        stageRepositoryArchive(registry, { repository: 'offsite', key }, file, { maxBytes: 1 << 30, log: async () => undefined, download: { validator } }),
      ).rejects.toThrow(/is not the one its copy manifest names \(SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}\); the copy is damaged or was replaced/);
    });

    it('a restore by backup id whose only copy is there continues it the same way, and checks the bytes against the backup’s', async () => {
      const { registry } = await setUp(archive);
      const file = join(tempDir(), 'restore-b.zip');
      const now = new Date().toISOString();
      const backupOf = (bytes: Buffer) => {
        const copy = { repository: 'offsite', key, sizeBytes: bytes.length, sha256: sha256(bytes), written: now, verified: now, lockedUntil: null, error: null };
        return { id: 'b1', status: 'Completed', completed: now, sizeBytes: bytes.length, sha256: sha256(bytes), copies: [copy], encryption: null } as unknown as BackupJob;
      };
      const lines: string[] = [];
      const deps = { blobs: {} as BlobStore, config: { maxRestoreBytes: 1 << 30 } as AppConfig, repositories: registry, archives: new BackupArchives({} as BlobStore, {} as AppConfig, registry), log: async (line: string) => void lines.push(line) };
      const noted: DownloadValidator[] = [];
      const first = await archiveOnDisk({ kind: 'backup', backup: backupOf(archive) }, file, { ...deps, download: { onValidator: async (validator) => void noted.push(validator) } });
      expect(first).toEqual({ file, owned: true, encrypted: false });
      expect(noted).toHaveLength(1);

      // Killed part way: the resume reads the rest of the copy, from the byte it stopped at.
      const at = 2_000_003;
      writeFileSync(file, archive.subarray(0, at));
      lines.length = 0;
      await archiveOnDisk({ kind: 'backup', backup: backupOf(archive) }, file, { ...deps, download: { validator: noted[0]!, onValidator: async () => expect.unreachable('a resume keeps the first validator') } });
      expect(readFileSync(file).equals(archive)).toBe(true);
      expect(lines).toContain(`Copying backup b1 from its copy in repository "offsite"`);
      expect(lines).toContain(`Continuing the interrupted download of "${key}" in repository "offsite" from byte ${at} of ${archive.length}`);

      // The copy is what its copy manifest names but not what the backup was written as: refused, nothing kept.
      writeFileSync(file, archive.subarray(0, at));
      const other = randomBytes(archive.length);
      await expect(archiveOnDisk({ kind: 'backup', backup: backupOf(other) }, file, { ...deps, download: { validator: noted[0]! } })).rejects.toThrow(
        `The archive of backup b1 read back as ${archive.length} bytes with SHA-256 ${sha256(archive)}, not the ${archive.length} bytes with SHA-256 ${sha256(other)} it was written as; it was changed or damaged where it is stored`,
      );
      expect(existsSync(file)).toBe(false);
    });

    it('refuses to continue from a copy that changed since the download began, keeping what it had', async () => {
      const { store, registry } = await setUp(archive);
      const dir = tempDir();
      const file = join(dir, 'restore-y.zip');
      const { validator } = await firstAttempt(registry, file);
      const half = 1_000_000;
      writeFileSync(file, archive.subarray(0, half));
      // Replaced by other bytes of the same size (another ETag on S3, another modification time in a folder).
      const other = randomBytes(archive.length);
      await put(store, key, other);
      if (store.kind === 'filesystem') utimesSync(join(kindRoot.get(store)!, key), new Date(), new Date(Date.now() + 60_000));
      const refused = stageRepositoryArchive(registry, { repository: 'offsite', key }, file, { maxBytes: 1 << 30, log: async () => undefined, download: { validator } });
      await expect(refused).rejects.toBeInstanceOf(ResumeRefusedError);
      await expect(refused).rejects.toThrow(/^The archive at "appvault\/shop\/.*\.zip" in repository "offsite" changed since this restore began reading it \(.*\); a restore cannot continue from another archive$/);
      expect(readFileSync(file).length).toBe(half);
    });
  });
}

const kindRoot = new Map<RepositoryStore, string>();

repositoryResumeCases('folder', async () => {
  const root = tempDir();
  const store = new FilesystemRepositoryStore(root);
  kindRoot.set(store, root);
  return store;
});

if (s3TestEnv || inCi) {
  const buckets = s3TestEnv ? new S3TestBuckets(s3TestEnv) : undefined;
  afterAll(async () => buckets?.removeAll());
  repositoryResumeCases('S3', async () => {
    if (!s3TestEnv || !buckets) throw new Error('S3_TEST_ENDPOINT is not set: with CI=true the S3 suites must run against a server, not skip');
    return new S3RepositoryStore(testConfig(s3TestEnv, await buckets.create('resume')), s3TestEnv.credentials);
  });
  describe('an S3 range read conditional on the ETag', () => {
    it('answers while the object has the ETag, and fails with reason `changed` once it has another', async () => {
      if (!s3TestEnv || !buckets) throw new Error('S3_TEST_ENDPOINT is not set');
      const store = new S3RepositoryStore(testConfig(s3TestEnv, await buckets.create('ifmatch')), s3TestEnv.credentials);
      await put(store, 'appvault/shop/a.zip', 'first version of the copy');
      const etag = (await store.head('appvault/shop/a.zip'))!.etag!;
      const rest = await store.get('appvault/shop/a.zip', { start: 6 }, { ifMatch: etag });
      expect(Buffer.concat(await rest.toArray()).toString()).toBe('version of the copy');
      await put(store, 'appvault/shop/a.zip', 'another copy, other bytes');
      await expect(store.get('appvault/shop/a.zip', { start: 6 }, { ifMatch: etag })).rejects.toMatchObject({ reason: 'changed', message: expect.stringMatching(/the object changed since it was first read \(PreconditionFailed/) });
    });
  });
}
