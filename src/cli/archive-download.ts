import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiClient, ErrorHints } from './api-client.js';
import type { Backup } from './api-types.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

export interface DownloadResult {
  file: string;
  bytes: number;
  sha256: string;
  /** The bytes already on disk were kept and the rest asked for with Range (the server answered 206). */
  resumed: boolean;
  /** A partial file was there but the server sent the whole archive (200), so it was written anew. */
  restarted: boolean;
  /** The file was complete already (the server answered 416 and its size matched). */
  alreadyComplete: boolean;
  /** The server's Accept-Ranges header on the last answer, if any. */
  acceptRanges: string | null;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CliError(`${file} exists and is not a file; pass another -o`, ExitCode.usage);
    return info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
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
 * Streams a completed backup's archive to `file`, never holding it in memory. A partial file is
 * resumed with `Range: bytes=<size>-` (206 appends, 200 starts over, 416 with the full size means
 * it is complete). The whole file's SHA-256 is then compared with the backup's.
 */
export async function downloadArchive(client: ApiClient, backup: Backup, archivePath: string, file: string, output: Output, hints: ErrorHints): Promise<DownloadResult> {
  const total = backup.sizeBytes;
  const existing = await sizeOf(file);
  const progress = output.progress(`download ${backup.appName}`, { step: 10 });
  let resumed = false;
  let restarted = false;
  let alreadyComplete = false;
  let acceptRanges: string | null = null;
  try {
    let offset = 0;
    let response: Response | undefined;
    if (existing !== undefined && existing > 0 && existing <= total) {
      // If-Range: the rest only of this very archive (its ETag is its SHA-256); anything else comes whole.
      const headers: Record<string, string> = { range: `bytes=${existing}-`, ...(backup.sha256 ? { 'if-range': `"${backup.sha256}"` } : {}) };
      response = await client.request('GET', archivePath, { headers, accept: [416], hints });
      acceptRanges = response.headers.get('accept-ranges');
      if (response.status === 206 && rangeStart(response.headers.get('content-range')) === existing) {
        resumed = true;
        offset = existing;
        progress.note(`resuming at ${existing} of ${total} bytes`);
      } else if (response.status === 416 && existing === total) {
        await response.body?.cancel();
        response = undefined;
        alreadyComplete = true;
        progress.note(`${file} is complete already (${total} bytes); checking it`);
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
      progress.note(`${file} is larger than the archive (${existing} > ${total} bytes); downloading it again`);
    }
    if (!alreadyComplete) {
      response ??= await client.request('GET', archivePath, { hints });
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
          createWriteStream(file, { flags: resumed ? 'a' : 'w' }),
        );
      } catch (error) {
        if (error instanceof CliError) throw error;
        const detail = error instanceof Error ? error.message : String(error);
        throw new CliError(`The download of backup ${backup.id} broke off after ${done} of ${total} bytes (${detail}); run the same command again to resume it`, ExitCode.unavailable);
      }
    }
    progress.update({ phase: 'verifying', done: total, total, unit: 'bytes' });
    const size = (await sizeOf(file)) ?? 0;
    const sha256 = await sha256Of(file);
    progress.stop();
    if (size !== total) {
      throw new CliError(`${file} has ${size} bytes, backup ${backup.id} has ${total}; delete the file and download it again`, ExitCode.failed);
    }
    if (backup.sha256 && sha256 !== backup.sha256) {
      throw new CliError(`${file} does not match the SHA-256 of backup ${backup.id} (${sha256} instead of ${backup.sha256}); delete the file and download it again`, ExitCode.failed);
    }
    return { file, bytes: size, sha256, resumed, restarted, alreadyComplete, acceptRanges };
  } finally {
    progress.stop();
  }
}
