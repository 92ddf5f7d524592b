import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** A file's lowercase hex SHA-256 and size, streamed (never read into memory). */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    hash.update(bytes);
  }
  return { sha256: hash.digest('hex'), size };
}
