import { PassThrough } from 'node:stream';
import { readZipBuffer } from './zip-inspect.js';
import yazl from 'yazl';

/**
 * Builds a hostile variant of an archive: every entry copied, `name` replaced (or added) with new
 * bytes. Names yazl refuses to write (`../x`) are written under a same-length placeholder and
 * patched in the raw bytes afterwards, the way an attacker would craft them.
 */
export async function tamper(archive: Buffer, name: string, change: (old: Buffer) => Buffer): Promise<Buffer> {
  const out = new yazl.ZipFile();
  const placeholder = name.replace(/\./g, 'x');
  let found = false;
  const entries = [...(await readZipBuffer(archive))].map(([entryName, bytes]) => ({ name: entryName, bytes }));
  for (const entry of entries) {
    if (entry.name === name) {
      found = true;
      out.addBuffer(change(entry.bytes), entry.name);
    } else {
      out.addBuffer(entry.bytes, entry.name);
    }
  }
  if (!found) out.addBuffer(change(Buffer.alloc(0)), placeholder);
  out.end();
  const sink = new PassThrough();
  (out.outputStream as unknown as NodeJS.ReadableStream).pipe(sink);
  const chunks: Buffer[] = [];
  for await (const chunk of sink) chunks.push(chunk as Buffer);
  let bytes = Buffer.concat(chunks);
  if (!found && placeholder !== name) {
    const from = Buffer.from(placeholder);
    const to = Buffer.from(name);
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + to.length)) {
      to.copy(bytes, at);
    }
    bytes = Buffer.from(bytes);
  }
  return bytes;
}
