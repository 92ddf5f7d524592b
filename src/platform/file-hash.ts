import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The lowercase hex SHA-256 and size of what a stream yields, read to its end (never held in memory). */
export async function hashStream(source: AsyncIterable<unknown>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    hash.update(bytes);
  }
  return { sha256: hash.digest('hex'), size };
}

/** A file's lowercase hex SHA-256 and size, streamed. */
export function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  return hashStream(createReadStream(path));
}
