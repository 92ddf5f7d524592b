import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, lstat, rename, unlink } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { backupRoutes } from '../contract/api-routes.js';
import type { Backup } from '../contract/backups.schemas.js';
import type { CliApi, ErrorHints } from './api-client.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

/** Where a download goes. */
export interface DownloadTarget {
  /** The archive's absolute path once it is complete and checked. */
  file: string;
  /** Replace `file` if something is there (--force). */
  force: boolean;
}

export interface DownloadResult {
  file: string;
  bytes: number;
  sha256: string;
  /** The bytes already in the .part file were kept and the rest asked for with Range (the server answered 206). */
  resumed: boolean;
  /** A .part file was there but the server sent the whole archive (200), so it was written anew. */
  restarted: boolean;
  /** Nothing was downloaded: the file is this backup's archive already, or the .part file held all of it (416). */
  alreadyComplete: boolean;
  /** `file` was there and was replaced (--force). */
  replaced: boolean;
  /** The server's Accept-Ranges header on the last answer, if any. */
  acceptRanges: string | null;
  /** `file` is the decrypted zip of an encrypted backup (--decrypt); `sha256` is the zip's, the download's was the backup's. */
  decrypted?: boolean;
}

/** What is at a path, without following a symbolic link: nothing, a regular file (its size), a folder, or something else. */
async function entryAt(path: string): Promise<{ kind: 'none' } | { kind: 'file'; size: number } | { kind: 'folder' | 'other' }> {
  try {
    const info = await lstat(path);
    return info.isFile() ? { kind: 'file', size: info.size } : { kind: info.isDirectory() ? 'folder' : 'other' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
}

/** The size of the partial download at `part`, undefined when there is none; anything but a regular file there is refused. */
async function partSize(part: string): Promise<number | undefined> {
  const entry = await entryAt(part);
  if (entry.kind === 'none') return undefined;
  if (entry.kind !== 'file') throw new CliError(`${part} exists and is not a file; remove it or pass another -o`, ExitCode.usage);
  return entry.size;
}

/** Codes of file systems without hard links (FAT on a USB stick, some network shares). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Gives the checked archive its name. With --force it is renamed over whatever is there; without,
 * it is linked to the name, which fails if the name is taken (a file that appeared during the
 * download is kept), and the .part name is then removed.
 */
async function publish(part: string, file: string, force: boolean): Promise<void> {
  if (force) return rename(part, file);
  const taken = () => new CliError(`${file} appeared while the archive was downloading; the archive is complete and checked in ${part}: move it yourself, or pass --force to replace ${file}`, ExitCode.usage);
  try {
    await link(part, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw taken();
    if (!NO_HARD_LINKS.has(code)) throw error;
    // Without hard links, a copy that refuses an existing name keeps the same promise.
    try {
      await copyFile(part, file, constants.COPYFILE_EXCL);
    } catch (copyError) {
      if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') throw taken();
      throw copyError;
    }
  }
  await unlink(part);
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) hash.update(chunk);
  });
  return hash.digest('hex');
}

/** The byte range a 206 answers (`Content-Range: bytes 100-199/200`). */
function rangeStart(header: string | null): number | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Streams a completed backup's archive to `<file>.part`, never holding it in memory, checks its
 * size and SHA-256 against the backup's, and only then gives it its name (publish). An existing
 * file is never replaced without `force`; one that is this very archive is only checked. A .part
 * file is resumed with `Range: bytes=<size>-` (206 appends, 200 starts over, 416 with the full
 * size means it is complete). `app`: the archive is reached through the app, else by id alone.
 */
export async function downloadArchive(client: CliApi, backup: Backup, app: string | undefined, target: DownloadTarget, output: Output, hints: ErrorHints): Promise<DownloadResult> {
  const { file, force } = target;
  const archive = (headers: Record<string, string>, accept: readonly number[] = []) => client.send(backupRoutes(app).archive, { params: { app, id: backup.id }, headers }, hints, { accept });
  const total = backup.sizeBytes;
  const there = await entryAt(file);
  if (there.kind === 'folder') throw new CliError(`${file} is a folder; pass -o <file>`, ExitCode.usage);
  const progress = output.progress(`download ${backup.appName}`, { step: 10 });
  try {
    if (there.kind !== 'none' && !force) {
      if (there.kind === 'file' && there.size === total && backup.sha256) {
        progress.update({ phase: 'verifying', done: total, total, unit: 'bytes' });
        const sha256 = await sha256Of(file);
        if (sha256 === backup.sha256) {
          progress.note(`${file} is this backup's archive already; nothing to download`);
          return { file, bytes: total, sha256, resumed: false, restarted: false, alreadyComplete: true, replaced: false, acceptRanges: null };
        }
      }
      throw new CliError(`${file} exists and is not the archive of backup ${backup.id}; pass --force to replace it, or -o another file`, ExitCode.usage);
    }
    const part = `${file}.part`;
    const existing = await partSize(part);
    let resumed = false;
    let restarted = false;
    let alreadyComplete = false;
    let acceptRanges: string | null = null;
    let offset = 0;
    let response: Response | undefined;
    if (existing !== undefined && existing > 0 && existing <= total) {
      // If-Range: the rest only of this very archive (its ETag is its SHA-256); anything else comes whole.
      const headers: Record<string, string> = { range: `bytes=${existing}-`, ...(backup.sha256 ? { 'if-range': `"${backup.sha256}"` } : {}) };
      response = await archive(headers, [416]);
      acceptRanges = response.headers.get('accept-ranges');
      if (response.status === 206 && rangeStart(response.headers.get('content-range')) === existing) {
        resumed = true;
        offset = existing;
        progress.note(`resuming at ${existing} of ${total} bytes`);
      } else if (response.status === 416 && existing === total) {
        await response.body?.cancel();
        response = undefined;
        alreadyComplete = true;
        progress.note(`${part} is complete already (${total} bytes); checking it`);
      } else {
        if (response.status !== 200) {
          await response.body?.cancel();
          response = undefined;
        }
        restarted = true;
        progress.note(`the server did not resume from byte ${existing} (${response?.status ?? 'range refused'}); downloading the whole archive again`);
      }
    } else if (existing !== undefined && existing > total) {
      restarted = true;
      progress.note(`${part} is larger than the archive (${existing} > ${total} bytes); downloading it again`);
    }
    if (!alreadyComplete) {
      response ??= await archive({});
      acceptRanges = response.headers.get('accept-ranges') ?? acceptRanges;
      if (!response.body) throw new CliError(`The server sent no archive for backup ${backup.id}`, ExitCode.unavailable, response.status);
      let done = offset;
      progress.update({ phase: resumed ? 'resuming' : 'downloading', done, total, unit: 'bytes' });
      const count = new Transform({
        transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
          done += chunk.length;
          progress.update({ phase: 'downloading', done, total, unit: 'bytes' });
          callback(null, chunk);
        },
      });
      const body = response.body;
      try {
        await pipeline(
          async function* () {
            const reader = body.getReader();
            try {
              for (;;) {
                const { done: finished, value } = await reader.read();
                if (finished) return;
                yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
              }
            } finally {
              reader.releaseLock();
            }
          },
          count,
          // A new .part is made exclusively: nothing that appeared at that name is written through.
          createWriteStream(part, { flags: resumed ? 'a' : existing === undefined ? 'wx' : 'w' }),
        );
      } catch (error) {
        if (error instanceof CliError) throw error;
        const detail = error instanceof Error ? error.message : String(error);
        throw new CliError(`The download of backup ${backup.id} broke off after ${done} of ${total} bytes (${detail}); ${part} keeps what arrived: run the same command again to resume it`, ExitCode.unavailable);
      }
    }
    progress.update({ phase: 'verifying', done: total, total, unit: 'bytes' });
    const size = (await partSize(part)) ?? 0;
    const sha256 = await sha256Of(part);
    progress.stop();
    if (size !== total) {
      throw new CliError(`${part} has ${size} bytes, backup ${backup.id} has ${total}; delete the file and download it again`, ExitCode.failed);
    }
    if (backup.sha256 && sha256 !== backup.sha256) {
      throw new CliError(`${part} does not match the SHA-256 of backup ${backup.id} (${sha256} instead of ${backup.sha256}); delete the file and download it again`, ExitCode.failed);
    }
    await publish(part, file, force);
    return { file, bytes: size, sha256, resumed, restarted, alreadyComplete, replaced: there.kind !== 'none', acceptRanges };
  } finally {
    progress.stop();
  }
}
