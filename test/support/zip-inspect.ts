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

/** Each entry's compression method (0 stored, 8 deflated), in the zip's order. */
export async function compressionMethods(file: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await eachEntry(await yauzl.openPromise(file, { lazyEntries: true, autoClose: false }), async (_zip, entry) => {
    out.set(entry.fileName, entry.compressionMethod);
  });
  return out;
}

async function entriesOf(zip: yauzl.ZipFile): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await eachEntry(zip, (opened, entry) =>
    new Promise<void>((resolve, reject) => {
      opened.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          out.set(entry.fileName, Buffer.concat(chunks));
          resolve();
        });
      });
    }),
  );
  return out;
}

/** Visits every entry in order, one at a time, and closes the zip. */
async function eachEntry(zip: yauzl.ZipFile, visit: (zip: yauzl.ZipFile, entry: yauzl.Entry) => Promise<void>): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => visit(zip, entry).then(() => zip.readEntry(), reject));
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}
