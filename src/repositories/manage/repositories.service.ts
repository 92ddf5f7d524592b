import { randomUUID } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import type { Repository, RepositoryCheck } from '../../contract/repositories.schemas.js';
import { resolveS3Credentials, type S3Credentials } from '../../infrastructure/repository-store/s3-repository-config.js';
import { conflict, invalid, notFound } from '../../platform/domain-errors.js';
import { LOCAL_REPOSITORY } from '../repository-registry.port.js';
import { RepositoryUsages } from '../repository-usage.port.js';
import { locationOf, type RepositoryRecord } from '../registry/repository-record.js';
import { RepositoryRegistryService } from '../registry/repository-registry.service.js';
import { insideDataDir, parseSettings, type RepositoryBody, type RepositorySettings } from './repository-input.js';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * What an admin does with repositories: add, change, remove, check. Every change is checked
 * against the disk or the bucket before it is saved (a folder that exists and is not the data
 * folder; a bucket with Object Lock when copies are to be locked), so a saved repository is one
 * that could be used when it was saved.
 */
@Injectable()
export class RepositoriesService {
  constructor(
    private readonly registry: RepositoryRegistryService,
    private readonly usages: RepositoryUsages,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(): Promise<Repository[]> {
    return [this.localView(), ...(await this.registry.allRecords()).map(toView)];
  }

  async get(nameOrId: string): Promise<Repository> {
    if (nameOrId === LOCAL_REPOSITORY) return this.localView();
    return toView(await this.require(nameOrId));
  }

  async create(body: RepositoryBody & { name: string; type: 'filesystem' | 's3' }, actor: string): Promise<Repository> {
    if (body.name === LOCAL_REPOSITORY) throw conflict('"local" is the installation\u2019s own store; choose another name');
    const settings = parseSettings(body, body.type);
    const now = new Date().toISOString();
    const draft: RepositoryRecord = { id: randomUUID(), name: body.name, ...withoutSecrets(settings), revision: 1, created: now, createdBy: actor, updated: now, updatedBy: actor };
    await this.checkUsable(draft, settings.secrets);
    const stored = await this.registry.records.insertIfMissing(draft);
    if (stored.id !== draft.id) throw conflict(`A repository named "${body.name}" exists already`);
    if (settings.secrets) await this.registry.credentials.put({ id: draft.id, ...settings.secrets });
    return toView(draft);
  }

  async update(nameOrId: string, body: RepositoryBody, actor: string): Promise<Repository> {
    const current = await this.require(nameOrId, 'changed');
    if (body.name !== undefined && body.name !== current.name) {
      throw invalid(`name: a repository cannot be renamed (backups and policies name it "${current.name}"); add a new one instead`);
    }
    if (body.type !== undefined && body.type !== current.type) throw invalid(`type: "${current.name}" is a ${current.type} repository and stays one; add a new repository instead`);
    const settings = parseSettings(body, current.type, current);
    const next: RepositoryRecord = { ...current, ...withoutSecrets(settings), revision: current.revision + 1, updated: new Date().toISOString(), updatedBy: actor };
    // New credentials are checked with the values sent; kept ones with those stored (the registry reads them).
    await this.checkUsable(next, settings.secrets);
    if (settings.secrets) await this.registry.credentials.put({ id: current.id, ...settings.secrets });
    await this.registry.records.put(next);
    if (settings.s3?.credentials.kind !== 'stored') await this.registry.credentials.delete(current.id);
    await this.registry.forget(current.name);
    return toView(next);
  }

  async remove(nameOrId: string): Promise<void> {
    const current = await this.require(nameOrId, 'removed');
    const uses = await this.usages.usesOf(current.name);
    if (uses.length > 0) {
      throw conflict(`The repository "${current.name}" is still in use: ${uses.join('; ')}. Change those to name another repository first; nothing was removed`);
    }
    await this.registry.records.delete(current.name);
    await this.registry.credentials.delete(current.id);
    await this.registry.forget(current.name);
  }

  /** The store's probe: what worked and what did not, in words. It never fails: a repository that cannot even be opened says why. */
  async check(nameOrId: string): Promise<RepositoryCheck> {
    const name = nameOrId === LOCAL_REPOSITORY ? LOCAL_REPOSITORY : (await this.require(nameOrId)).name;
    let store;
    try {
      store = (await this.registry.open(name)).store;
    } catch (error) {
      return { ok: false, steps: [{ step: 'credentials', ok: false, message: errorText(error) }] };
    }
    return store.probe();
  }

  /** A stored repository, or a 404; `local` is there but cannot be `doing`. */
  async require(nameOrId: string, doing?: 'changed' | 'removed'): Promise<RepositoryRecord> {
    if (nameOrId === LOCAL_REPOSITORY) {
      throw conflict(`"local" is the installation\u2019s own store: it is always there and cannot be ${doing ?? 'used this way'}`);
    }
    const record = await this.registry.find(nameOrId);
    if (!record) throw notFound(`There is no repository "${nameOrId}"; GET /api/repositories lists them`);
    return record;
  }

  private localView(): Repository {
    const local = this.registry.localDefinition();
    return { id: local.id, name: local.name, type: 'local', location: local.location, path: null, s3: null, credentials: null, objectLock: null, appendOnly: false, created: null, updated: null };
  }

  /**
   * A folder must exist (AppVault never creates it: an unmounted share must not fill the local
   * disk) and lie outside the data folder. A bucket that is to lock copies must have Object Lock
   * enabled; the store's probe says, and its credentials must resolve.
   */
  private async checkUsable(record: RepositoryRecord, secrets: S3Credentials | undefined): Promise<void> {
    if (record.type === 'filesystem') {
      const folder = record.path!;
      const info = await stat(folder).catch(() => undefined);
      if (!info) throw invalid(`path: ${folder} does not exist; AppVault never creates the repository folder (mount the share or create it first)`);
      if (!info.isDirectory()) throw invalid(`path: ${folder} is not a folder`);
      const real = await realpath(folder);
      const dataDir = await realpath(this.config.dataDir).catch(() => this.config.dataDir);
      const problem = insideDataDir(real, dataDir);
      if (problem) throw invalid(problem);
      return;
    }
    const source = record.s3!.credentials;
    let credentials = secrets;
    if (source.kind === 'environment' || source.kind === 'file') {
      credentials = await resolveS3Credentials(source.kind === 'file' ? { secretsFile: source.secretsFile } : source).catch((error: unknown) => {
        throw invalid(`s3: ${errorText(error)}`);
      });
    }
    if (!record.objectLock) return;
    const store = await this.registry.openUnsaved(record, credentials);
    try {
      const probe = await store.probe();
      const failed = probe.steps.find((step) => (step.step === 'bucket' || step.step === 'object-lock') && !step.ok);
      if (failed) {
        throw invalid(
          failed.step === 'object-lock' ? `objectLock: ${failed.message}` : `objectLock: cannot check that the bucket has Object Lock enabled: ${failed.message}`,
        );
      }
    } finally {
      await store.close();
    }
  }
}

function withoutSecrets(settings: RepositorySettings): Omit<RepositorySettings, 'secrets'> {
  const { secrets: _secrets, ...rest } = settings;
  return rest;
}

/** A stored repository as the API shows it: where its credentials come from, never what they are. */
export function toView(record: RepositoryRecord): Repository {
  const s3 = record.s3;
  const source = s3?.credentials;
  return {
    id: record.id,
    name: record.name,
    type: record.type,
    location: locationOf(record),
    path: record.path,
    s3: s3
      ? {
          endpoint: s3.config.endpoint ?? null,
          region: s3.config.region,
          bucket: s3.config.bucket,
          prefix: s3.config.prefix,
          forcePathStyle: s3.config.forcePathStyle,
          storageClass: s3.config.storageClass ?? null,
          accessKeyIdEnv: source?.kind === 'environment' ? source.accessKeyIdEnv : null,
          secretAccessKeyEnv: source?.kind === 'environment' ? source.secretAccessKeyEnv : null,
          secretsFile: source?.kind === 'file' ? source.secretsFile : null,
        }
      : null,
    credentials: source?.kind ?? null,
    objectLock: record.objectLock,
    appendOnly: record.appendOnly,
    created: record.created,
    updated: record.updated,
  };
}
