import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Restore, RestorePreflight } from '../contract/restores.schemas.js';
import type { CliApi, ErrorHints } from './api-client.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

/** A multipart/form-data field header, with quotes and line breaks kept out of the names. */
const partHeader = (boundary: string, name: string, fileName?: string) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${fileName === undefined ? '' : `; filename="${fileName.replace(/["\r\n\\]/g, '_')}"`}\r\n${fileName === undefined ? '' : 'Content-Type: application/zip\r\n'}\r\n`;

/**
 * Uploads an archive for a restore (or its dry run, field `dryRun`) as multipart/form-data (the text fields first, then `file`),
 * streamed from disk chunk by chunk with its exact Content-Length, so the server can refuse an
 * archive over its limit before it arrives and the zip is never held in memory.
 */
export async function uploadRestore(client: CliApi, file: string, fields: Record<string, string>, output: Output, hints: ErrorHints): Promise<Restore | RestorePreflight> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CliError(`--file ${file} is not a file`, ExitCode.usage);
    size = info.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`Cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, ExitCode.usage);
  }
  const boundary = `appvault-${randomBytes(16).toString('hex')}`;
  const head = Buffer.from(Object.entries(fields).map(([name, value]) => `${partHeader(boundary, name)}${value}\r\n`).join('') + partHeader(boundary, 'file', basename(file)));
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const progress = output.progress('upload', { step: 10 });
  let sent = 0;
  const source = createReadStream(file, { highWaterMark: 256 * 1024 });
  const chunks = source[Symbol.asyncIterator]();
  let stage: 'head' | 'file' | 'tail' | 'end' = 'head';
  const body = new ReadableStream<Uint8Array>({
    // Pulled as fetch sends: the progress follows what went out, and only a chunk is in memory.
    async pull(controller) {
      if (stage === 'head') {
        stage = 'file';
        controller.enqueue(head);
        progress.update({ phase: 'uploading', done: 0, total: size, unit: 'bytes' });
        return;
      }
      if (stage === 'file') {
        const next = await chunks.next();
        if (!next.done) {
          const chunk = next.value as Buffer;
          sent += chunk.length;
          controller.enqueue(chunk);
          progress.update({ phase: 'uploading', done: sent, total: size, unit: 'bytes' });
          return;
        }
        stage = 'tail';
      }
      if (stage === 'tail') {
        stage = 'end';
        controller.enqueue(tail);
        progress.update({ phase: 'waiting for the server', done: size, total: size, unit: 'bytes' });
        return;
      }
      controller.close();
    },
    cancel() {
      source.destroy();
    },
  });
  try {
    const answer = await client.call(
      'restores.start',
      { headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) } },
      hints,
      { raw: body },
    );
    return answer;
  } finally {
    source.destroy();
    progress.stop();
  }
}
