import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ArchiveKeys, generateKeyPair } from '../../src/archive/age-keys.js';
import { ageEncryptor } from '../../src/archive/age-stream.js';
import { EncryptedArchiveError } from '../../src/archive/archive-decryption.js';
import { archiveOnDisk } from '../../src/backup/restore/archive-source.js';
import type { BackupJob } from '../../src/backup/shared/backup-job.js';
import type { AppConfig } from '../../src/config/app-config.js';
import type { BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { tempDir } from '../support/test-server.js';

/**
 * A stored backup the archive store keeps as a file is read in place; when it is encrypted, its
 * decryption must go to the restore's temporary folder (emptied at start-up), never beside the
 * stored archive, where a crash would leave a decrypted copy among the backups.
 */
describe('archiveOnDisk: where an encrypted archive is decrypted', () => {
  it('decrypts a stored backup read in place into the temporary folder the caller chose, and leaves the stored file alone', async () => {
    const root = tempDir();
    const store = join(root, 'blobs', 'backups');
    const tmp = join(root, 'tmp');
    mkdirSync(store, { recursive: true });
    mkdirSync(tmp);
    const { identity, recipient } = await generateKeyPair();
    const plain = Buffer.from('PK… a zip would be here');
    const stored = join(store, 'b1.zip.age');
    await pipeline(Readable.from([plain]), await ageEncryptor({ recipients: [recipient] }), createWriteStream(stored));
    const sealed = readFileSync(stored);
    const deps = {
      blobs: {} as BlobStore,
      config: { maxRestoreBytes: 1024 * 1024 } as AppConfig,
      archives: { onDisk: async () => ({ file: stored, owned: false }) },
    };
    const backup = { id: 'b1' } as BackupJob;

    const given = ArchiveKeys.ofIdentities([identity]);
    const other = await generateKeyPair();
    const opened = await archiveOnDisk({ kind: 'backup', backup }, join(tmp, 'restore-1.zip'), { ...deps, openers: { given, installationIdentity: async () => other.identity } });
    expect(opened).toEqual({ file: join(tmp, 'decrypted-restore-1.zip'), owned: true, encrypted: true });
    expect(readFileSync(opened.file).equals(plain)).toBe(true);
    expect(readdirSync(store)).toEqual(['b1.zip.age']);
    expect(readFileSync(stored).equals(sealed)).toBe(true);

    // Without a key, and not to this installation: refused, nothing decrypted anywhere.
    const refused = await archiveOnDisk({ kind: 'backup', backup }, join(tmp, 'restore-2.zip'), { ...deps, openers: { given: null, installationIdentity: async () => other.identity } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EncryptedArchiveError);
    expect((refused as EncryptedArchiveError).reason).toBe('no-key');
    expect(existsSync(join(tmp, 'decrypted-restore-2.zip'))).toBe(false);
    expect(readdirSync(store)).toEqual(['b1.zip.age']);

    // To this installation's own key: opened with no key given.
    const own = await archiveOnDisk({ kind: 'backup', backup }, join(tmp, 'restore-3.zip'), { ...deps, openers: { given: null, installationIdentity: async () => identity } });
    expect(readFileSync(own.file).equals(plain)).toBe(true);

    // A plain file is handed on as it is.
    writeFileSync(join(store, 'b2.zip'), plain);
    const plainDeps = { ...deps, archives: { onDisk: async () => ({ file: join(store, 'b2.zip'), owned: false }) } };
    expect(await archiveOnDisk({ kind: 'backup', backup }, join(tmp, 'restore-4.zip'), plainDeps)).toEqual({ file: join(store, 'b2.zip'), owned: false, encrypted: false });
  });
});
