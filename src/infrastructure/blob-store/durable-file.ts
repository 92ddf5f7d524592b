import { type FileHandle, open } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Streams `source` through `meter` into a new file at `path` (never an existing one) and resolves
 * once its bytes are on disk: the write stream owns the handle and `flush` fsyncs before it
 * closes, so a rename that follows never publishes bytes still in the cache. On failure the
 * pipeline destroys the streams; removing the file is the caller's (it chose the name).
 */
export async function writeNewFile(path: string, source: Readable, meter: Transform, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  let sink;
  try {
    sink = handle.createWriteStream({ flush: true });
  } catch (error) {
    await handle.close();
    throw error;
  }
  await pipeline(source, meter, sink);
}

/** Makes a rename durable; some filesystems cannot fsync a folder, which is not worth failing a write. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
