import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { expect } from 'vitest';
import type { BackupCopy } from '../../src/backup/shared/backup-job.js';
import { waitForJob } from './fixtures.js';
import type { S3TestEnv } from './s3-test-buckets.js';
import { type ApiClient, type TestServer, tempDir } from './test-server.js';

/**
 * Backup repositories and copies the way an installation gets them: an admin configures a
 * repository with `POST /api/repositories`, and a backup that names it has the server's own copy
 * step write the archive and its copy manifest there. Two servers configured with the same folder
 * or bucket are two installations sharing a repository.
 */

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** One copy as a backup records it and the API answers it (docs/api.md, *Copies in repositories*). */
export type Copy = BackupCopy;

export type BackupWithCopies = Record<string, unknown> & { id: string; status: string; copies: Copy[]; warnings: string[]; sha256: string; sizeBytes: number; eventCount: number };

export const copyIn = (backup: { copies: Copy[] }, repository: string): Copy => {
  const copy = backup.copies.find((c) => c.repository === repository);
  if (!copy) throw new Error(`no copy in ${repository}: ${JSON.stringify(backup.copies)}`);
  return copy;
};

/** Adds a repository as an admin does; fails the test unless the server accepts it. */
export async function addRepository(admin: ApiClient, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const made = await admin.post('/api/repositories', body);
  expect(made.status, `${JSON.stringify(body)}: ${JSON.stringify(made.body)}`).toBe(201);
  return made.body as Record<string, unknown>;
}

/** The body that adds an S3 repository on `bucket` of the S3 test server, with credentials stored by the server. */
export function s3Repository(env: S3TestEnv, name: string, bucket: string, options: { endpoint?: string; prefix?: string; objectLock?: { mode: string; days: number } } = {}): Record<string, unknown> {
  const { endpoint = env.endpoint, prefix, objectLock } = options;
  return {
    name,
    type: 's3',
    s3: { endpoint, region: env.region, bucket, ...(prefix ? { prefix } : {}), accessKeyId: env.credentials.accessKeyId, secretAccessKey: env.credentials.secretAccessKey },
    ...(objectLock ? { objectLock } : {}),
  };
}

/** Starts a backup of `app` (`body`: repositories, label) as `client` and waits for it to end; answers the backup as the admin reads it. */
export async function backUp(client: ApiClient, admin: ApiClient, app: string, body: Record<string, unknown> = {}): Promise<BackupWithCopies> {
  const started = await client.post(`/api/apps/${app}/backups`, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return (await waitForJob(admin, `/api/backups/${started.body.id as string}`)) as BackupWithCopies;
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
