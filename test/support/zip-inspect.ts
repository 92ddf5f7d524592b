import yauzl from 'yauzl';

/**
 * Reads a whole zip into memory for assertions. Deliberately independent of the product's
 * archive reader and writer: tests check archives with plain yauzl and their own logic.
 */
export async function readZip(file: string): Promise<Map<string, Buffer>> {
  return entriesOf(await yauzl.openPromise(file, { lazyEntries: true, autoClose: false }));
}

/** The same, for an archive held in memory. */
export async function readZipBuffer(archive: Buffer): Promise<Map<string, Buffer>> {
  return entriesOf(await yauzl.fromBufferPromise(archive, { lazyEntries: true, autoClose: false }));
}

async function entriesOf(zip: yauzl.ZipFile): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (error, stream) => {
          if (error) return reject(error);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return out;
}

/** Each entry's compression method (0 stored, 8 deflated), in the zip's order. */
export async function compressionMethods(file: string): Promise<Map<string, number>> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  const out = new Map<string, number>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        out.set(entry.fileName, entry.compressionMethod);
        zip.readEntry();
      });
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return out;
}
