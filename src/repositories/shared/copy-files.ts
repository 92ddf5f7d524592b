import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  type ByteRange,
  LockedError,
  ObjectNotFoundError,
  type RepositoryObjectInfo,
  type RepositoryStore,
  RepositoryStoreError,
  resolveRange,
} from '../../infrastructure/repository-store/repository-store.port.js';
import { parseBoundedJson } from '../../platform/json/bounded-json.js';
import { APP_ID_SEGMENT, type CopyFileRef, copyFrameKey, copyManifestKey, MAX_COPY_MANIFEST_BYTES } from './copy-layout.js';
import { type CheckedCopyManifest, readCheckedCopyManifest, readObjectText } from './copy-manifest-reader.js';

/**
 * Shared files: the bytes of a file version stored once per app in a repository, whatever number
 * of copies hold it (docs/backup-format.md, *Copies with shared files*).
 *
 * - `appvault-files/{appId}/{sha256}`: the bytes an asset entry has inside the zip (its stored
 *   data, deflated or not), named by their SHA-256. Written once; a copy that needs bytes already
 *   there only names them.
 * - `appvault-refs/{appId}/{backupId}.json`: which files one copy needs. Written before any file
 *   is looked up or uploaded, removed after the copy's manifest and frame: a file named by a refs
 *   object is never removed, so a copy (finished, or under way, or left by a crash) never points
 *   at a file that is gone.
 * - Removing a copy sweeps its app's files: every file no refs object names goes (mark and sweep,
 *   not counters: a counter in a bucket cannot be updated atomically by two writers, a scan can
 *   be repeated after any crash). A file that is still locked stays for a later sweep.
 *
 * Within the installation a sweep and the refs write of a copy of the same app in the same
 * repository never interleave (`withFilesLock`): the copy writes its refs, then lists what is
 * there, so a file the sweep removed is uploaded again. Two installations writing the same app
 * into one repository are not serialised (docs/architecture.md says what holds then).
 */
export const FILES_ROOT = 'appvault-files';
export const REFS_ROOT = 'appvault-refs';
const REFS_FORMAT = 'appvault-copy-refs';

export const sharedFileKey = (appId: string, sha256: string) => `${FILES_ROOT}/${assertAppId(appId)}/${sha256}`;
export const copyRefsKey = (appId: string, backupId: string) => `${REFS_ROOT}/${assertAppId(appId)}/${backupId}.json`;
const SHA256_NAME = /^[0-9a-f]{64}$/;

function assertAppId(appId: string): string {
  if (!APP_ID_SEGMENT.test(appId)) throw new Error(`The app id ${JSON.stringify(appId.slice(0, 80))} cannot name shared files`);
  return appId;
}

/** A shared file a copy needs is missing or not the bytes it names; the message names the file and the copy. */
export class SharedFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SharedFileError';
  }
}

const locks = new Map<string, Promise<unknown>>();

/**
 * Runs `task` alone among the tasks given the same repository and app: a sweep, or the refs write
 * of a copy. In memory, because one process serves an installation (its data folder is locked).
 */
export async function withFilesLock<T>(store: RepositoryStore, appId: string, task: () => Promise<T>): Promise<T> {
  const key = `${store.location}\u0000${appId}`;
  const before = locks.get(key) ?? Promise.resolve();
  const run = before.then(task, task);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** What a copy's refs object says: the files it needs. */
export function copyRefsText(backupId: string, archiveKey: string, files: readonly string[]): string {
  return `${JSON.stringify({ format: REFS_FORMAT, backup: backupId, archive: archiveKey, files: [...new Set(files)] })}\n`;
}

const refsSchema = z.object({ format: z.literal(REFS_FORMAT), files: z.array(z.string().regex(SHA256_NAME)) });

/**
 * Every file some refs object of the app names. Throws when one cannot be read or is not a refs
 * object: a sweep that does not know every reference removes nothing.
 */
async function referencedFiles(store: RepositoryStore, appId: string): Promise<Set<string>> {
  const named = new Set<string>();
  for await (const object of store.list(`${REFS_ROOT}/${assertAppId(appId)}`)) {
    if (!object.key.endsWith('.json')) continue;
    const text = await readObjectText(store, object.key, MAX_COPY_MANIFEST_BYTES, 'a refs object');
    const json = parseBoundedJson(text);
    const parsed = 'problem' in json ? undefined : refsSchema.safeParse(json.value);
    if (!parsed?.success) throw new Error(`${object.key} is not a refs object AppVault can read, so no shared file of the app is removed`);
    for (const sha256 of parsed.data.files) named.add(sha256);
  }
  return named;
}

/** What a sweep did: files removed, and files no copy needs that stay because they are locked. */
export interface SweepResult {
  removed: number;
  locked: number;
  /** Why a sweep removed nothing, when it could not run (releaseCopyFiles). */
  problem?: string;
}

/** Removes every file of the app that no refs object names (see above); locked ones stay for a later sweep. */
export async function sweepSharedFiles(store: RepositoryStore, appId: string): Promise<SweepResult> {
  return withFilesLock(store, appId, async () => {
    const named = await referencedFiles(store, appId);
    const result: SweepResult = { removed: 0, locked: 0 };
    for await (const object of store.list(`${FILES_ROOT}/${appId}`)) {
      const name = object.key.slice(object.key.lastIndexOf('/') + 1);
      if (!SHA256_NAME.test(name) || named.has(name)) continue;
      try {
        await store.delete(object.key);
        result.removed += 1;
      } catch (error) {
        if (!(error instanceof LockedError)) throw error;
        result.locked += 1;
      }
    }
    return result;
  });
}

/**
 * Drops one copy's claim on its files (its refs object) and sweeps the app's files. Called once
 * the copy's manifest and frame are gone; a missing refs object is fine (a whole copy, or a
 * removal asked again).
 */
export async function releaseCopyFiles(store: RepositoryStore, appId: string, backupId: string): Promise<SweepResult> {
  if (!APP_ID_SEGMENT.test(appId)) return { removed: 0, locked: 0 };
  await store.delete(copyRefsKey(appId, backupId));
  try {
    return await sweepSharedFiles(store, appId);
  } catch (error) {
    // The copy is gone whatever the sweep meets (an unreadable refs object, a store that fails now): its files wait for a later sweep.
    return { removed: 0, locked: 0, problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Removes a copy from a repository: its manifest first (a listing never shows a copy that is
 * going), its archive or frame, then its claim on shared files and the files no other copy
 * needs. Each step is a no-op when already done, so a removal that failed part-way can be asked
 * again.
 */
export async function removeCopyObjects(store: RepositoryStore, archiveKey: string, appId: string, backupId: string): Promise<SweepResult> {
  await store.delete(copyManifestKey(archiveKey));
  await store.delete(archiveKey);
  if (archiveKey.endsWith('.zip')) await store.delete(copyFrameKey(archiveKey));
  return releaseCopyFiles(store, appId, backupId);
}

/** The files the app holds in the repository now, by name, with their size. */
export async function storedSharedFiles(store: RepositoryStore, appId: string): Promise<Map<string, number>> {
  const stored = new Map<string, number>();
  for await (const object of store.list(`${FILES_ROOT}/${assertAppId(appId)}`)) {
    const name = object.key.slice(object.key.lastIndexOf('/') + 1);
    if (SHA256_NAME.test(name)) stored.set(name, object.size);
  }
  return stored;
}

/** The first shared file of `files` the repository lacks or holds with another size, in words; undefined when all are there. */
export async function missingSharedFiles(store: RepositoryStore, appId: string, files: readonly CopyFileRef[]): Promise<string | undefined> {
  const stored = await storedSharedFiles(store, appId);
  for (const file of files) {
    const size = stored.get(file.sha256);
    if (size === undefined) return `the shared file ${sharedFileKey(appId, file.sha256)}, which is missing from the repository`;
    if (size !== file.size) return `the shared file ${sharedFileKey(appId, file.sha256)} of ${file.size} bytes, which the repository holds with ${size}: it was changed or damaged`;
  }
  return undefined;
}

/** A copy as a reader finds it in a repository: its archive whole, or a frame with shared files. */
export interface StoredCopy {
  /** The archive's size, and its SHA-256 where the store or the copy manifest gives one. */
  sizeBytes: number;
  sha256?: string;
  /** The object that stands for the copy: the archive, or the frame (its lock is the copy's). */
  info: RepositoryObjectInfo;
  /** The copy manifest of a copy with shared files (undefined for a whole archive). */
  shared?: CheckedCopyManifest & { frame: NonNullable<CheckedCopyManifest['frame']>; files: CopyFileRef[] };
}

/**
 * The copy whose archive has `archiveKey`: the archive object when it is there, else the frame
 * and copy manifest of a copy with shared files; undefined when neither is. A manifest that is
 * there must pass every check (readCheckedCopyManifest throws otherwise).
 */
export async function findStoredCopy(store: RepositoryStore, archiveKey: string): Promise<StoredCopy | undefined> {
  const whole = await store.head(archiveKey);
  if (whole) return { sizeBytes: whole.size, ...(whole.sha256 ? { sha256: whole.sha256.toLowerCase() } : {}), info: whole };
  if (!archiveKey.endsWith('.zip')) return undefined;
  const frame = await store.head(copyFrameKey(archiveKey));
  if (!frame) return undefined;
  const manifest = await readCheckedCopyManifest(store, archiveKey);
  if (!manifest?.frame || !manifest.files) return undefined;
  return { sizeBytes: manifest.archive.sizeBytes, sha256: manifest.archive.sha256, info: frame, shared: { ...manifest, frame: manifest.frame, files: manifest.files } };
}

/**
 * The copy's archive bytes, whole or a range: the object itself (read only while it has the ETag
 * `condition.ifMatch` names, where the store keeps ETags), or its frame and files put back
 * together (files are named by their SHA-256 and checked as they stream).
 */
export async function openStoredCopy(store: RepositoryStore, archiveKey: string, copy: StoredCopy, range?: ByteRange, condition?: { ifMatch?: string }): Promise<Readable> {
  if (!copy.shared) return store.get(archiveKey, range, condition);
  return reassemble(store, copy.shared, range);
}

type Piece = { at: number; size: number } & ({ frameAt: number } | { file: CopyFileRef });

/** The archive as a sequence of frame stretches and files, in order. */
function* piecesOf(files: readonly CopyFileRef[], archiveSize: number): Generator<Piece> {
  let at = 0;
  let frameAt = 0;
  for (const file of files) {
    if (file.at > at) {
      yield { at, size: file.at - at, frameAt };
      frameAt += file.at - at;
    }
    yield { at: file.at, size: file.size, file };
    at = file.at + file.size;
  }
  if (archiveSize > at) yield { at, size: archiveSize - at, frameAt };
}

/**
 * Streams a copy's archive from its frame and shared files: the frame is read once, front to
 * back, and each file in turn; every file is hashed as it streams and must have the SHA-256 and
 * size it is named by, or the stream fails naming it. A range reads only the frame and files it
 * covers (a file it covers in part is still read whole, to be checked).
 */
function reassemble(store: RepositoryStore, copy: NonNullable<StoredCopy['shared']>, range?: ByteRange): Readable {
  const size = copy.archive.sizeBytes;
  const span = range ? resolveRange(range, size) : size > 0 ? { start: 0, end: size - 1 } : undefined;
  if (range && !span) throw new RepositoryStoreError('invalid-range', `The range asked for starts past the end of ${copy.archive.key} (${size} bytes)`);
  const appId = copy.backup.appId;
  async function* bytes(): AsyncGenerator<Buffer> {
    if (!span) return;
    const pieces = [...piecesOf(copy.files, size)].filter((piece) => piece.at <= span.end && piece.at + piece.size - 1 >= span.start);
    // The next few files are asked for while one streams: a GET's round trip each, not one after another.
    const opened = new Map<number, Promise<Readable>>();
    const open = (index: number) => {
      const piece = pieces[index];
      if (!piece || 'frameAt' in piece || opened.has(index)) return;
      const stream = store.get(sharedFileKey(appId, piece.file.sha256));
      stream.catch(() => undefined);
      opened.set(index, stream);
    };
    let frame: FrameReader | undefined;
    try {
      for (const [index, piece] of pieces.entries()) {
        for (let ahead = index; ahead <= index + READ_AHEAD; ahead += 1) open(ahead);
        const from = Math.max(piece.at, span.start);
        const to = Math.min(piece.at + piece.size - 1, span.end);
        if ('frameAt' in piece) {
          frame ??= new FrameReader(await store.get(copy.frame.key, { start: piece.frameAt + (from - piece.at) }), copy.frame.key);
          yield* frame.take(to - from + 1);
        } else {
          const stream = opened.get(index)!;
          opened.delete(index);
          yield* readFile(stream, sharedFileKey(appId, piece.file.sha256), piece.file, copy.archive.key, from - piece.at, to - piece.at);
        }
      }
    } finally {
      frame?.close();
      for (const stream of opened.values()) void stream.then((unread) => unread.destroy(), () => undefined);
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

/** How many shared files a read asks for ahead of the one it streams (an idle GET holds a socket and a few KiB). */
const READ_AHEAD = 4;

/** One shared file, checked whole; yields its bytes `from` to `to` (inclusive). */
async function* readFile(opening: Promise<Readable>, key: string, file: CopyFileRef, archiveKey: string, from: number, to: number): AsyncGenerator<Buffer> {
  let stream: Readable;
  try {
    stream = await opening;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new SharedFileError(`The shared file ${key} that the copy ${archiveKey} needs is missing from the repository`, { cause: error });
    throw error;
  }
  const hash = createHash('sha256');
  let at = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    const start = Math.max(from - at, 0);
    const end = Math.min(to - at + 1, chunk.length);
    if (start < end) yield chunk.subarray(start, end);
    at += chunk.length;
    if (at > file.size) break;
  }
  stream.destroy();
  const sha256 = hash.digest('hex');
  if (at !== file.size || sha256 !== file.sha256) {
    throw new SharedFileError(`The shared file ${key} that the copy ${archiveKey} needs is damaged: it ${at !== file.size ? `has ${at > file.size ? 'more than' : 'only'} ${at} bytes, not ${file.size}` : `reads with SHA-256 ${sha256}`}`);
  }
}

/** Reads a frame front to back in stretches of exact lengths. */
class FrameReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private rest: Buffer = Buffer.alloc(0);

  constructor(
    private readonly stream: Readable,
    private readonly key: string,
  ) {
    this.chunks = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async *take(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      if (this.rest.length === 0) {
        const next = await this.chunks.next();
        if (next.done) throw new SharedFileError(`The frame ${this.key} ends before the archive does: it was cut or replaced`);
        this.rest = next.value;
      }
      const piece = this.rest.subarray(0, left);
      this.rest = this.rest.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  close(): void {
    this.stream.destroy();
  }
}
