import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { invalid, tooLarge } from '../platform/domain-errors.js';
import type { IncomingAssetFile } from './asset.commands.js';

/**
 * Room for the multipart framing around the file (boundaries, part headers, a few small fields)
 * when judging a request by its Content-Length alone.
 */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** Larger than the default 16 KiB so a big upload takes fewer turns of the event loop; still tiny next to the file. */
const CHUNK_BYTES = 256 * 1024;

export interface ReceivedFile extends IncomingAssetFile {
  /** Stops reading the request and discards the rest of its body. Harmless once the body was read. */
  discard(): void;
}

export interface ReceiveOptions {
  fieldName: string;
  maxBytes: number;
}

/**
 * Reads a multipart/form-data request straight from the socket and resolves as soon as the part
 * holding the file begins, handing its bytes on as a stream: nothing is buffered beyond a chunk,
 * whatever the file's size. Backpressure from whoever reads the stream slows the socket down.
 *
 * Problems found before the file begins reject the returned promise; problems found after it (a
 * second file, a broken or cut-off body) reject `completed` and fail the file stream, so a caller
 * that stores the bytes first and records them after `completed` never records a bad upload.
 */
export function receiveFile(request: IncomingMessage, options: ReceiveOptions): Promise<ReceivedFile> {
  const { fieldName, maxBytes } = options;
  const contentType = request.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    return Promise.reject(invalid(`Send the file as multipart/form-data with a part named "${fieldName}"`));
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes + MULTIPART_OVERHEAD_BYTES) {
    return Promise.reject(tooLarge(`The upload is ${declared} bytes, over the limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES); nothing was stored`));
  }

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: request.headers,
      highWaterMark: CHUNK_BYTES,
      fileHwm: CHUNK_BYTES,
      // Browsers and fetch send file names as raw UTF-8; busboy's default (latin1) would garble them.
      defParamCharset: 'utf8',
      limits: { fields: 20, fieldSize: 64 * 1024, fieldNameSize: 200, parts: 30, headerPairs: 100 },
    });
  } catch (error) {
    return Promise.reject(invalid(`The multipart body cannot be read: ${error instanceof Error ? error.message : String(error)}`));
  }

  return new Promise<ReceivedFile>((resolve, reject) => {
    let file: Readable | undefined;
    let state: 'reading' | 'done' | 'failed' = 'reading';
    let settleCompleted: { resolve: () => void; reject: (error: Error) => void } | undefined;
    const completed = new Promise<void>((res, rej) => {
      settleCompleted = { resolve: res, reject: rej };
    });
    // Callers await `completed` only on their success path; an early failure must not surface as unhandled.
    completed.catch(() => undefined);

    const stopReading = () => {
      request.unpipe(parser);
      parser.destroy();
      // Drains what the client still sends, so the connection can carry the answer (and the next request).
      request.resume();
    };

    const fail = (error: Error) => {
      if (state !== 'reading') return;
      state = 'failed';
      if (file) {
        settleCompleted?.reject(error);
        // Whoever is storing the bytes stops with this error rather than waiting forever.
        if (!file.destroyed) file.destroy(error);
      } else {
        reject(error);
      }
      stopReading();
    };

    parser.on('file', (name, stream, info) => {
      // A stream destroyed with an error before anyone listens would otherwise crash the process.
      stream.on('error', () => undefined);
      if (name !== fieldName) {
        stream.resume();
        fail(invalid(`Unexpected file in the part "${name}"; send exactly one file, in the part "${fieldName}"`));
        return;
      }
      if (file) {
        stream.resume();
        fail(invalid(`Send exactly one file per request; this request has more than one in "${fieldName}"`));
        return;
      }
      file = stream;
      resolve({
        fileName: info.filename ?? '',
        mimeType: info.mimeType,
        stream,
        completed,
        discard: () => {
          if (state === 'reading') {
            state = 'failed';
            settleCompleted?.reject(new Error('The upload was discarded'));
            stopReading();
          }
        },
      });
    });
    parser.on('field', (name) => {
      if (name === fieldName) fail(invalid(`The part "${fieldName}" must be a file: give it a filename`));
    });
    parser.on('partsLimit', () => fail(invalid('The form has too many parts')));
    parser.on('fieldsLimit', () => fail(invalid('The form has too many fields')));
    parser.on('error', (error) => fail(invalid(`The multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`)));
    parser.on('close', () => {
      if (state !== 'reading') return;
      if (!file) {
        state = 'failed';
        reject(invalid(`The form has no file in the part "${fieldName}"`));
        return;
      }
      state = 'done';
      settleCompleted?.resolve();
    });
    request.on('error', (error) => fail(invalid(`The upload failed: ${error.message}`)));
    request.on('close', () => {
      if (!request.complete) fail(invalid('The upload was cut off before it was complete'));
    });
    request.pipe(parser);
  });
}
