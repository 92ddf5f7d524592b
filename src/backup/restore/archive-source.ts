import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { AppConfig } from '../../config/app-config.js';
import type { BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import { invalid } from '../../platform/domain-errors.js';
import { archiveKey } from '../backup-job.js';
import { describeUrl } from './restore-job.js';
import { checkUrl, downloadToFile } from './url-fetcher.js';

/** Where a restore (or its dry run) reads an archive from. */
export type ArchiveSource = { kind: 'upload'; file: string } | { kind: 'backup'; backupId: string } | { kind: 'url'; url: string };

/** A URL a restore may try, or a 400 saying why not (the address rules are checked when it is fetched). */
export function requireRestoreUrl(url: string): void {
  try {
    checkUrl(url);
  } catch (error) {
    throw invalid((error as Error).message);
  }
}

/**
 * Puts the archive on local disk: an upload is already there; a stored backup is read in place
 * when the archive store keeps files, else copied to `file`; a URL is downloaded to `file` under
 * the restore limits. `owned` says whether the caller must remove the file afterwards.
 */
export async function archiveOnDisk(
  source: ArchiveSource,
  file: string,
  deps: { blobs: BlobStore; config: AppConfig; log?: (message: string) => Promise<void> },
): Promise<{ file: string; owned: boolean }> {
  const log = deps.log ?? (async () => undefined);
  switch (source.kind) {
    case 'upload':
      await log('Using the uploaded archive');
      return { file: source.file, owned: true };
    case 'backup': {
      const key = archiveKey(source.backupId);
      const inPlace = await deps.blobs.localFile?.(key);
      if (inPlace) {
        await log(`Reading backup ${source.backupId} in place from the archive store`);
        return { file: inPlace, owned: false };
      }
      await log(`Copying backup ${source.backupId} from the archive store`);
      await pipeline(await deps.blobs.get(key), createWriteStream(file, { mode: 0o600 }));
      return { file, owned: true };
    }
    case 'url': {
      await log(`Downloading ${describeUrl(source.url)}`);
      const { bytes } = await downloadToFile(source.url, file, {
        allowedHosts: deps.config.restoreAllowedHosts,
        maxBytes: deps.config.maxRestoreBytes,
        timeoutMs: deps.config.restoreUrlTimeoutMs,
      });
      await log(`Downloaded ${bytes} bytes`);
      return { file, owned: true };
    }
  }
}
