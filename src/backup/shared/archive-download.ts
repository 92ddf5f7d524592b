import { pipeline } from 'node:stream/promises';
import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import type { ByteRange } from '../../infrastructure/blob-store/blob-store.port.js';
import { archiveExtension, type BackupJob, isEncrypted } from './backup-job.js';

/** Where archives are read from (BackupArchives, archive-locations.ts). */
export interface ArchiveOpener {
  open(job: BackupJob, range?: ByteRange): Promise<Readable>;
}

const logger = new Logger('Backups');

function timestampForFile(iso: string): string {
  return iso.slice(0, 19).replace('T', '_').replaceAll(':', '-');
}

/**
 * What a `Range` header asks of a body of `size` bytes: one range (RFC 9110 §14), `unsatisfiable`,
 * or `whole` for no header, several ranges or one that cannot be parsed (a server may ignore those
 * and send it all).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'whole' | 'unsatisfiable' {
  if (!header) return 'whole';
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return 'whole';
  const [, from, to] = match;
  if (from === '' && to === '') return 'whole';
  if (from === '') {
    // The last N bytes.
    const suffix = Number(to);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (end < start) return 'whole';
  return { start, end };
}

/**
 * Sends a completed backup's archive: streamed, resumable (`Range` → 206, `416` past the end,
 * `If-Range` against the ETag), with its SHA-256 as a strong `ETag` and as `Repr-Digest`
 * (RFC 9530: the digest of the whole archive, also on a partial answer). The bytes come from
 * wherever the archive is (the archive store, else a copy in a repository: archiveLocations).
 */
export async function sendArchive(archives: ArchiveOpener, job: BackupJob, req: Request, res: Response): Promise<void> {
  const size = job.sizeBytes;
  const etag = job.sha256 ? `"${job.sha256}"` : undefined;
  const digest = job.sha256 ? Buffer.from(job.sha256, 'hex').toString('base64') : undefined;
  // Set once the answer is the archive (or about it): an error answer carries none of them.
  const describe = () => {
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, no-cache');
    if (job.completed) res.setHeader('Last-Modified', new Date(job.completed).toUTCString());
    if (etag) res.setHeader('ETag', etag);
    if (digest) res.setHeader('Repr-Digest', `sha-256=:${digest}:`);
  };
  if (etag && req.headers['if-none-match']?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
    describe();
    res.status(304).end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? 'whole' : parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    describe();
    res.status(416).setHeader('Content-Range', `bytes */${size}`);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ statusCode: 416, error: 'Range Not Satisfiable', message: `The archive has ${size} bytes; ask for a range that starts before byte ${size}` }));
    return;
  }
  const stream = await archives.open(job, range === 'whole' ? undefined : range);
  describe();
  // An encrypted archive is an age file (no registered media type), named so that tools see it for what it is.
  res.setHeader('Content-Type', isEncrypted(job) ? 'application/octet-stream' : 'application/zip');
  res.setHeader('Content-Disposition', `attachment; filename="backup-${job.appName}-${timestampForFile(job.created)}${archiveExtension(job)}"`);
  if (range === 'whole') {
    res.status(200).setHeader('Content-Length', String(size));
  } else {
    res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  }
  if (req.method === 'HEAD') {
    stream.destroy();
    res.end();
    return;
  }
  try {
    await pipeline(stream, res);
  } catch (error) {
    // A client that stops downloading is routine (a resumable download resumes), not a server error.
    if (res.destroyed || (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
      logger.debug(`The download of backup ${job.id} was cut off by the client after ${res.socket?.bytesWritten ?? '?'} bytes`);
      stream.destroy();
      return;
    }
    throw error;
  }
}
