import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import yazl from 'yazl';
import { MANIFEST_ENTRY, type Manifest, type ManifestEntry } from './archive-format.js';

/** Counts and hashes bytes on their way into the zip. */
class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Writes an archive as a stream with yazl. Each entry is awaited until yazl has consumed it, so
 * at most one entry is in flight and memory stays flat; the manifest, which needs every other
 * entry's checksum, is written last.
 */
export class ArchiveWriter {
  private readonly zip = new yazl.ZipFile();
  private readonly entries: ManifestEntry[] = [];
  private failure?: Error;
  private current?: { hasher: HashingStream; source: Readable };
  readonly output: Readable;

  constructor(private readonly mtime = new Date()) {
    this.output = this.zip.outputStream as unknown as Readable;
  }

  get entryList(): readonly ManifestEntry[] {
    return this.entries;
  }

  async addEntry(name: string, source: Readable, options: { compress: boolean }): Promise<ManifestEntry> {
    if (this.failure) throw this.failure;
    const hasher = new HashingStream();
    this.current = { hasher, source };
    source.once('error', (error) => hasher.destroy(error));
    source.pipe(hasher);
    this.zip.addReadStream(hasher, name, { compress: options.compress, mtime: this.mtime });
    try {
      await finished(hasher);
    } finally {
      this.current = undefined;
    }
    if (this.failure) throw this.failure;
    const entry = { name, size: hasher.size, sha256: hasher.digest() };
    this.entries.push(entry);
    return entry;
  }

  addBuffer(name: string, bytes: Buffer, options: { compress: boolean }): Promise<ManifestEntry> {
    const source = new PassThrough();
    source.end(bytes);
    return this.addEntry(name, source, options);
  }

  /** Writes the manifest (with every entry's checksum) and closes the zip. */
  async finish(manifest: Omit<Manifest, 'entries'>): Promise<void> {
    if (this.failure) throw this.failure;
    const complete: Manifest = { ...manifest, entries: [...this.entries] };
    const bytes = Buffer.from(JSON.stringify(complete, null, 2), 'utf8');
    const source = new PassThrough();
    source.end(bytes);
    const hasher = new HashingStream();
    this.current = { hasher, source };
    source.pipe(hasher);
    this.zip.addReadStream(hasher, MANIFEST_ENTRY, { compress: true, mtime: this.mtime });
    this.zip.end();
    await finished(hasher);
    if (this.failure) throw this.failure;
  }

  /** Stops writing: the consumer of `output` failed, or the job is being abandoned. */
  abort(error: Error): void {
    this.failure ??= error;
    // The source too: it may hold a file handle (an asset being read).
    this.current?.source.destroy();
    this.current?.hasher.destroy(error);
    this.output.destroy(error);
  }
}
