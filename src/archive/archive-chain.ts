import { PassThrough, type Readable } from 'node:stream';
import { hashFile } from '../platform/file-hash.js';
import { parseBoundedJson } from '../platform/json/bounded-json.js';
import { type ArchivedEvent, CREDENTIALS_ENTRY, type Manifest, USERS_ENTRY } from './archive-format.js';
import { type ArchiveContent, ArchiveReader, type EventCursor, InvalidArchiveError, readBoundedText } from './archive-reader.js';

/** One archive's file, or an incremental chain's links (base first, each with its SHA-256 as stored). */
export type RehearsalSource = string | readonly ChainLink[];

/** Opens what a rehearsal or a restore reads: one archive, or a chain whose links are checked first (ArchiveChain). */
export function openArchiveSource(source: RehearsalSource, limits: { maxExpandedBytes: number }): Promise<ArchiveContent> {
  return typeof source === 'string' ? ArchiveReader.open(source, limits) : ArchiveChain.open(source, limits);
}

/** users.json and credentials.json are read whole, as the users participant reads them. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;
/** The manifest's warnings a chain reports, as one archive's writer keeps them. */
const MAX_WARNINGS = 1000;

/** One archive of a chain on local disk (decrypted when it was encrypted), with the SHA-256 of the file as it was stored. */
export interface ChainLink {
  file: string;
  /** SHA-256 of the archive as stored: of the `.zip`, or of the `.zip.age` file it was decrypted from. */
  storedSha256: string;
  /** How a message names it (a backup id, a file name). */
  label: string;
  /**
   * The archive already opened (its zip directory read and its manifest checked) by whoever
   * fetched it: the first open() takes it (and then owns it) instead of reading the directory of
   * a large archive again; later opens read the file anew.
   */
  opened?: ArchiveReader;
}

/** The SHA-256 of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  return (await hashFile(file)).sha256;
}

/** How a refusal names a base: by the id the increment gives. */
const baseOf = (manifest: Manifest) => `base backup ${manifest.base!.backupId} of this incremental`;

/**
 * Checks that `links` (base first) form one chain, before anything of them is read: the first is
 * a full archive; each next one is incremental and names the one before it by backup id, SHA-256
 * as stored, end position and event count; all are of the same app in the same event store.
 * Throws InvalidArchiveError naming the link that breaks it.
 */
export function checkChain(links: readonly { manifest: Manifest; storedSha256: string; label: string }[]): void {
  const [first] = links;
  if (!first) throw new Error('A chain has at least one archive');
  if (first.manifest.base) throw new InvalidArchiveError(`The ${baseOf(first.manifest)} is missing (${first.label} continues it); give the chain from its full backup, base first`);
  let events = first.manifest.counts.events;
  for (let index = 1; index < links.length; index++) {
    const previous = links[index - 1]!;
    const { manifest, label } = links[index]!;
    const base = manifest.base;
    if (!base) throw new InvalidArchiveError(`${label} is a full archive, not an incremental of ${previous.label}; a chain has one full archive, first`);
    if (manifest.app.id !== previous.manifest.app.id) throw new InvalidArchiveError(`${label} is of app ${manifest.app.id}, its base ${previous.label} of app ${previous.manifest.app.id}; a chain is of one app`);
    // A base written before archives named themselves has no backupId: its SHA-256, checked next, ties it all the same.
    if (previous.manifest.backupId !== undefined && previous.manifest.backupId !== base.backupId) {
      throw new InvalidArchiveError(`The ${baseOf(manifest)} is missing: ${label} continues backup ${base.backupId}, but the archive before it is ${previous.manifest.backupId ? `backup ${previous.manifest.backupId}` : previous.label}`);
    }
    if (previous.storedSha256 !== base.sha256) {
      throw new InvalidArchiveError(`The ${baseOf(manifest)} (${previous.label}) has been altered: its SHA-256 differs (${previous.storedSha256}, the incremental names ${base.sha256})`);
    }
    const { source } = previous.manifest;
    if (source.position !== base.position || source.installationId !== manifest.source.installationId || source.eventStore !== manifest.source.eventStore) {
      throw new InvalidArchiveError(`${label} does not continue ${previous.label} where it ends: its base ends at position ${base.position}, the base archive at ${source.position}`);
    }
    if (base.events !== events) throw new InvalidArchiveError(`${label} numbers its events on from ${base.events}, but the chain before it holds ${events}`);
    events += manifest.counts.events;
  }
}

/**
 * An incremental chain read as the one history it stands for, so that every check and the
 * restore loop run on it as on one archive (ArchiveContent): the events of the base, then those of
 * each increment, numbered 1..N; each file version from the archive that holds it; users.json and
 * credentials.json as one list, the later archive's entry for a user winning (a user renamed
 * since the base). `open` checks each link (checkChain) before it reads anything.
 */
export class ArchiveChain implements ArchiveContent {
  readonly manifest: Manifest;
  private readonly merged = new Map<string, Buffer>();
  /** The link whose events are being read (for `cursor`). */
  private current = 0;

  private constructor(private readonly links: readonly ArchiveReader[]) {
    const first = links[0]!.manifest;
    const last = links.at(-1)!.manifest;
    const sum = (count: keyof Manifest['counts']) => links.reduce((total, link) => total + link.manifest.counts[count], 0);
    this.manifest = {
      ...first,
      app: last.app,
      created: last.created,
      source: last.source,
      ...(last.backupId ? { backupId: last.backupId } : {}),
      counts: { events: sum('events'), eventFiles: sum('eventFiles'), assets: sum('assets'), users: last.counts.users },
      missing: links.flatMap((link) => link.manifest.missing),
      warnings: links.flatMap((link) => link.manifest.warnings).slice(0, MAX_WARNINGS),
      // Each link's entries are its own reader's to check; the chain lists none of its own.
      entries: [],
    };
  }

  /**
   * Opens every archive of a chain (base first), checks the links, and answers the chain; a chain
   * of one full archive is that archive's reader. Closes whatever it opened when it fails.
   */
  static async open(links: readonly ChainLink[], limits: { maxExpandedBytes: number }): Promise<ArchiveContent> {
    const readers: ArchiveReader[] = [];
    try {
      for (const link of links) {
        const opened = link.opened;
        link.opened = undefined;
        readers.push(opened ?? (await ArchiveReader.open(link.file, limits)));
      }
      checkChain(readers.map((reader, index) => ({ manifest: reader.manifest, storedSha256: links[index]!.storedSha256, label: links[index]!.label })));
    } catch (error) {
      for (const reader of readers) reader.close();
      throw error;
    }
    return readers.length === 1 ? readers[0]! : new ArchiveChain(readers);
  }

  has(name: string): boolean {
    return this.links.some((link) => link.has(name));
  }

  namesOf(kind: 'asset' | 'events'): string[] {
    return [...new Set(this.links.flatMap((link) => link.namesOf(kind)))];
  }

  async open(name: string): Promise<Readable> {
    const merged = this.merged.get(name);
    if (merged) {
      const stream = new PassThrough();
      stream.end(merged);
      return stream;
    }
    if (name === USERS_ENTRY || name === CREDENTIALS_ENTRY) throw new Error('scan() the chain before reading its users');
    for (let index = this.links.length - 1; index >= 0; index--) if (this.links[index]!.has(name)) return this.links[index]!.open(name);
    throw new InvalidArchiveError(`No archive of the chain has an entry ${name}`);
  }

  /** Each link's scan in order (the events see one numbering, 1..N), then users.json and credentials.json merged. */
  async scan(onEvent: Parameters<ArchiveContent['scan']>[0]): Promise<void> {
    for (const link of this.links) await link.scan(onEvent);
    for (const name of [USERS_ENTRY, CREDENTIALS_ENTRY]) {
      if (!this.has(name)) continue;
      const byId = new Map<string, unknown>();
      for (const link of this.links) {
        if (!link.has(name)) continue;
        for (const item of await listOf(link, name)) byId.set(item.id, item);
      }
      this.merged.set(name, Buffer.from(JSON.stringify([...byId.values()]), 'utf8'));
      if (name === USERS_ENTRY) this.manifest.counts.users = byId.size;
    }
  }

  /**
   * The links' events in order. A chain's cursor numbers event files across the chain (the base's
   * 1..n, then the first increment's n+1.., and so on), and its event numbers run 1..N, so one
   * cursor names one place: a resumed restore reads on from there, in that link and the ones after.
   */
  async *events(from?: EventCursor): AsyncIterable<ArchivedEvent> {
    let offset = 0;
    for (const [index, link] of this.links.entries()) {
      const files = link.manifest.counts.eventFiles;
      this.current = index;
      if (!from) yield* link.events();
      else if (from.file > offset + files) {
        offset += files;
        continue;
      } else if (from.file > offset) yield* link.events({ file: from.file - offset, first: from.first });
      // Past the link the cursor was in: from its start (the resume skipped the scan, so the start is named).
      else if (files > 0) yield* link.events({ file: 1, first: link.firstEvent });
      offset += files;
    }
    if (from && from.file > offset) throw new InvalidArchiveError(`The chain has no event file ${from.file} to resume from`);
  }

  get cursor(): EventCursor {
    const before = this.links.slice(0, this.current).reduce((sum, link) => sum + link.manifest.counts.eventFiles, 0);
    const inLink = this.links[this.current]!.cursor;
    return { file: before + inLink.file, first: inLink.first };
  }

  async verifyChecksums(onProgress?: (done: number, total: number) => void): Promise<void> {
    const total = this.links.reduce((sum, link) => sum + link.manifest.entries.length, 0);
    let before = 0;
    for (const link of this.links) {
      await link.verifyChecksums((done) => onProgress?.(before + done, total));
      before += link.manifest.entries.length;
    }
  }

  close(): void {
    for (const link of this.links) link.close();
  }
}

/** users.json or credentials.json of one link as a list of records with an id (the users participant checks the rest). */
async function listOf(link: ArchiveReader, name: string): Promise<{ id: string }[]> {
  const parsed = parseBoundedJson(await readBoundedText(await link.open(name), MAX_LIST_BYTES), 4);
  const list = 'problem' in parsed ? undefined : parsed.value;
  if (!Array.isArray(list) || !list.every((item): item is { id: string } => typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string')) {
    throw new InvalidArchiveError(`${name} cannot be read: ${'problem' in parsed ? parsed.problem : 'it is not a list of records with an id'}`);
  }
  return list;
}

/**
 * The links of one chain in order, base first, however they were given (the files of a folder):
 * the archive no other continues is the newest; each base is the archive its increment names by
 * backup id. Throws InvalidArchiveError when the files hold several chains, none, or one besides.
 */
export async function orderChain(links: readonly ChainLink[], limits: { maxExpandedBytes: number }): Promise<ChainLink[]> {
  const manifests = new Map<ChainLink, Manifest>();
  for (const link of links) {
    const reader = await ArchiveReader.open(link.file, limits);
    reader.close();
    manifests.set(link, reader.manifest);
  }
  const continued = new Set([...manifests.values()].flatMap((manifest) => (manifest.base ? [manifest.base.backupId] : [])));
  const tops = links.filter((link) => !continued.has(manifests.get(link)!.backupId ?? ''));
  if (tops.length !== 1) throw new InvalidArchiveError(`The archives form ${tops.length === 0 ? 'no chain (each is the base of another)' : `${tops.length} chains, ending at ${tops.map((link) => link.label).join(', ')}`}; give one chain's files`);
  const byId = new Map(links.flatMap((link) => (manifests.get(link)!.backupId ? [[manifests.get(link)!.backupId!, link] as const] : [])));
  const ordered = [tops[0]!];
  for (let base = manifests.get(tops[0]!)!.base; base; base = manifests.get(ordered[0]!)!.base) {
    const link = byId.get(base.backupId);
    if (!link || ordered.includes(link)) break;
    ordered.unshift(link);
  }
  const outside = links.filter((link) => !ordered.includes(link));
  if (outside.length > 0) throw new InvalidArchiveError(`${outside.map((link) => link.label).join(', ')} ${outside.length === 1 ? 'is' : 'are'} not part of the chain ending at ${tops[0]!.label}`);
  return ordered;
}
