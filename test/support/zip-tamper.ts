import { PassThrough } from 'node:stream';
import yauzl from 'yauzl';
import yazl from 'yazl';

/**
 * Builds a hostile variant of an archive: every entry copied, `name` replaced (or added) with new
 * bytes. Names yazl refuses to write (`../x`) are written under a same-length placeholder and
 * patched in the raw bytes afterwards, the way an attacker would craft them.
 */
export async function tamper(archive: Buffer, name: string, change: (old: Buffer) => Buffer): Promise<Buffer> {
  const zip = await yauzl.fromBufferPromise(archive, { lazyEntries: true });
  const out = new yazl.ZipFile();
  const placeholder = name.replace(/\./g, 'x');
  let found = false;
  const entries: { name: string; bytes: Buffer }[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          entries.push({ name: entry.fileName, bytes: Buffer.concat(chunks) });
          zip.readEntry();
        });
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
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
