import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { Manifest } from '../../archive/archive-format.js';
import type { BlobStore } from '../../infrastructure/blob-store/blob-store.port.js';
import type { CopyFileRef } from '../../repositories/shared/copy-layout.js';

/** Where an asset's stored data begins: entries under `assets/` are file versions (archive-format.ts). */
const ASSET_ENTRY = /^assets\//;
/** Zip compression method 0: the entry's data is the file's bytes as they are. */
const STORED = 0;

/** Reads byte ranges of an archive in the installation's own store, for yauzl. */
class BlobRangeReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly blobs: BlobStore,
    private readonly key: string,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // yauzl asks synchronously; the store answers a promise, so the bytes flow through a pass-through once it does.
    const out = new PassThrough();
    if (end <= start) {
      out.end();
      return out;
    }
    this.blobs.get(this.key, { start, end: end - 1 }).then(
      (source) => {
        source.on('error', (error) => out.destroy(error));
        source.pipe(out);
      },
      (error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    return out;
  }
}

/**
 * Which stretches of a finished archive become shared files in a repository: the stored data of
 * every asset entry of at least `minBytes` bytes, with its offset in the archive and the SHA-256
 * of those bytes (for an entry stored as is, the file's own SHA-256 from the manifest; a deflated
 * one is hashed here). Read from the archive's zip directory and local headers, so nothing about
 * the layout is assumed. In offset order, as the copy manifest lists them.
 */
export async function planSharedFiles(blobs: BlobStore, key: string, archiveSize: number, manifest: Manifest, minBytes: number): Promise<CopyFileRef[]> {
  if (minBytes <= 0) return [];
  const listed = new Map(manifest.entries.map((entry) => [entry.name, entry]));
  // In place when the archive store keeps files (one descriptor for every local header), else through its ranged reads.
  const file = await blobs.localFile?.(key);
  const options = { lazyEntries: true, autoClose: false };
  const zip = file ? await yauzl.openPromise(file, options) : await yauzl.fromRandomAccessReaderPromise(new BlobRangeReader(blobs, key), archiveSize, options);
  const files: CopyFileRef[] = [];
  try {
    const wanted: yauzl.Entry[] = [];
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        if (ASSET_ENTRY.test(entry.fileName) && entry.compressedSize >= minBytes) wanted.push(entry);
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
    for (const entry of wanted) {
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      const own = listed.get(entry.fileName);
      const sha256 = entry.compressionMethod === STORED && own?.sha256 && own.size === entry.compressedSize ? own.sha256 : await hashRange(blobs, key, fileDataStart, entry.compressedSize);
      files.push({ at: fileDataStart, size: entry.compressedSize, sha256 });
    }
  } finally {
    zip.close();
  }
  return files.sort((a, b) => a.at - b.at);
}

async function hashRange(blobs: BlobStore, key: string, at: number, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await blobs.get(key, { start: at, end: at + size - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
