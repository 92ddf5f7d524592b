import { describe, expect, it } from 'vitest';
import { insideDataDir, parseSettings } from '../../src/repositories/manage/repository-input.js';
import type { RepositoryRecord } from '../../src/repositories/registry/repository-record.js';

const s3Record = (credentials: NonNullable<RepositoryRecord['s3']>['credentials']): RepositoryRecord => ({
  id: 'r1',
  name: 'offsite',
  type: 's3',
  path: null,
  s3: { config: parseSettings({ s3: { bucket: 'backups' } }, 's3').s3!.config, credentials },
  objectLock: null,
  appendOnly: false,
  revision: 1,
  created: '',
  createdBy: '',
  updated: '',
  updatedBy: '',
});

const problem = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a problem');
};

describe('repository settings from a request', () => {
  it('fills in the S3 defaults and keeps credentials out of the stored settings', () => {
    const settings = parseSettings({ s3: { endpoint: 'http://127.0.0.1:7480', bucket: 'backups', prefix: 'team-a', accessKeyId: 'AKIA', secretAccessKey: 'shh' } }, 's3');
    expect(settings.s3!.config).toMatchObject({ endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', bucket: 'backups', prefix: 'team-a/', forcePathStyle: true });
    expect(settings.s3!.credentials).toEqual({ kind: 'stored' });
    expect(settings.secrets).toEqual({ accessKeyId: 'AKIA', secretAccessKey: 'shh' });
    expect(JSON.stringify(settings.s3)).not.toContain('shh');
    expect(parseSettings({ s3: { bucket: 'backups' } }, 's3').s3!.config.forcePathStyle).toBe(false);
  });

  it('takes exactly one source of credentials; none means the SDK’s chain on a create and the current source on an update', () => {
    expect(parseSettings({ s3: { bucket: 'b-1', accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' } }, 's3').s3!.credentials).toEqual({ kind: 'environment', accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' });
    expect(parseSettings({ s3: { bucket: 'b-1', secretsFile: '/run/secrets/s3' } }, 's3').s3!.credentials).toEqual({ kind: 'file', secretsFile: '/run/secrets/s3' });
    expect(parseSettings({ s3: { bucket: 'b-1' } }, 's3').s3!.credentials).toEqual({ kind: 'default' });
    expect(parseSettings({ s3: { bucket: 'b-1' } }, 's3', s3Record({ kind: 'stored' })).s3!.credentials).toEqual({ kind: 'stored' });
    expect(parseSettings({ s3: { bucket: 'b-1' } }, 's3', s3Record({ kind: 'stored' })).secrets).toBeUndefined();
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1', secretAccessKey: 'hush-hush', accessKeyIdEnv: 'K' } }, 's3'))).toBe(
      's3: give one source of credentials: accessKeyIdEnv and secretAccessKeyEnv (environment), secretsFile (a file), or accessKeyId and secretAccessKey (stored); this request gives secretAccessKey, accessKeyIdEnv',
    );
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1', secretAccessKey: 'hush-hush' } }, 's3'))).not.toContain('hush-hush');
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1', secretsFile: 'secrets.json' } }, 's3'))).toContain('must be an absolute path');
  });

  it('on an update, fills every field left out from the stored repository; null removes a lock', () => {
    const locked = { ...s3Record({ kind: 'file', secretsFile: '/run/secrets/s3' }), objectLock: { mode: 'GOVERNANCE' as const, days: 3 } };
    expect(parseSettings({}, 's3', locked)).toEqual({ type: 's3', path: null, s3: locked.s3, objectLock: locked.objectLock, appendOnly: false });
    expect(parseSettings({ objectLock: { mode: 'COMPLIANCE', days: 9 } }, 's3', locked)).toMatchObject({ s3: locked.s3, objectLock: { mode: 'COMPLIANCE', days: 9 } });
    expect(parseSettings({ objectLock: null }, 's3', locked).objectLock).toBeNull();
    expect(parseSettings({ s3: { bucket: 'other' } }, 's3', locked)).toMatchObject({ s3: { config: { bucket: 'other' }, credentials: { kind: 'file' } }, objectLock: locked.objectLock });
    expect(problem(() => parseSettings({ appendOnly: true }, 's3', locked))).toContain('appendOnly: only for filesystem repositories');
    const folder: RepositoryRecord = { ...locked, type: 'filesystem', path: '/mnt/nas', s3: null, objectLock: null, appendOnly: true };
    expect(parseSettings({ path: '/mnt/nas2' }, 'filesystem', folder)).toMatchObject({ path: '/mnt/nas2', appendOnly: true });
    expect(parseSettings({ appendOnly: false }, 'filesystem', folder)).toMatchObject({ path: '/mnt/nas', appendOnly: false });
    expect(problem(() => parseSettings({ path: 'nas' }, 'filesystem', folder))).toContain('path: must be absolute');
  });

  it('keeps each option to its type and says so', () => {
    expect(problem(() => parseSettings({ path: '/mnt/nas', objectLock: { mode: 'GOVERNANCE', days: 1 } }, 'filesystem'))).toContain('a folder cannot lock a copy');
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1' }, appendOnly: true }, 's3'))).toContain('appendOnly: only for filesystem repositories');
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1' }, path: '/x' }, 's3'))).toContain('path: only for repositories of type filesystem');
    expect(problem(() => parseSettings({}, 's3'))).toContain('s3: is required');
    expect(problem(() => parseSettings({ s3: { bucket: 'b-1', region: 'Mars 1' } }, 's3'))).toContain('s3.region: region must be a region name');
    expect(parseSettings({ path: '/mnt/nas/../nas2/', appendOnly: true }, 'filesystem')).toEqual({ type: 'filesystem', path: '/mnt/nas2', s3: null, objectLock: null, appendOnly: true });
  });

  it('tells a folder in the data folder from one beside it', () => {
    expect(insideDataDir('/srv/appvault/data', '/srv/appvault/data')).toContain('is the data folder');
    expect(insideDataDir('/srv/appvault/data/blobs/x', '/srv/appvault/data')).toContain('is inside the data folder');
    expect(insideDataDir('/srv/appvault/data-copies', '/srv/appvault/data')).toBeUndefined();
    expect(insideDataDir('/srv/appvault', '/srv/appvault/data')).toBeUndefined();
    expect(insideDataDir('/mnt/nas', '/srv/appvault/data')).toBeUndefined();
  });
});
