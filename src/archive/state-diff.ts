import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DIFF_VALUE_MAX } from '../contract/api-values.js';
import type { DomainEvent } from '../eventsourcing/decider.js';
import type { StreamKind } from '../eventsourcing/event-catalog.js';
import type { EventCatalog } from '../eventsourcing/event-catalog.service.js';
import { TimeSlicer } from '../platform/time-slicer.js';

/** The two states a diff compares: `from` (a backup) and `to` (another backup, or the live app). */
export type DiffSide = 'from' | 'to';

/** A value as a diff shows it: its JSON, cut to VALUE_MAX characters (`truncated` then says so, `length` is the whole). */
export interface DiffValue {
  json: string;
  truncated: boolean;
  length: number;
}

export interface PropertyChange {
  /** `name`, `fields.title`, `status`, `data.title`, `fileName`, `role`… */
  name: string;
  change: 'added' | 'removed' | 'changed';
  before: DiffValue | null;
  after: DiffValue | null;
}

export interface VersionChange {
  version: string;
  value: DiffValue;
}

export interface DiffItem {
  kind: string;
  id: string;
  change: 'added' | 'removed' | 'changed';
  /** As the `to` side names it (the `from` side's for a removed one). */
  label: string;
  /** The `from` side's label when it differs. */
  labelBefore: string | null;
  properties: PropertyChange[];
  /** The names of the entity's own fields among `properties` (a content's data fields, a schema's fields), in order. */
  fields: string[];
  /** What `to` has that `from` lacks (an asset's new file versions). */
  versionsAdded: VersionChange[];
  versionsRemoved: VersionChange[];
}

export type ChangeCount = { added: number; removed: number; changed: number };

/** A page of a diff: the counts of the whole, and some of its changes. */
export interface DiffPage {
  /** Per kind (`schemas`, `contents`, `assets`, `contributors`): how many entities were added, removed and changed. */
  summary: Record<string, ChangeCount>;
  total: number;
  items: DiffItem[];
  /** Where the next page starts (its `after`), or null when this is the last. */
  next: string | null;
}

/** Longest JSON text a value is shown with (a word of the HTTP contract). */
const VALUE_MAX = DIFF_VALUE_MAX;
/** Entities one step of a pass reads or writes, between turns of the event loop. */
const BATCH = 500;
/** Entity states kept in memory while folding; beyond this they are written to the file and dropped. */
const CACHED_STATES = 2000;

const SIDE: Record<DiffSide, number> = { from: 0, to: 1 };

/** JSON with object keys sorted, so that equal values have equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v)) ?? 'null';
}

/** A value's JSON cut to VALUE_MAX characters, never in the middle of a character. */
export function shownValue(json: string): DiffValue {
  if (json.length <= VALUE_MAX) return { json, truncated: false, length: json.length };
  let cut = json.slice(0, VALUE_MAX);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return { json: cut, truncated: true, length: json.length };
}

interface Folded {
  kind: StreamKind;
  entityId: string;
  state: unknown;
}

interface EntryRow {
  kind: string;
  id: string;
  label: string;
  properties: string;
  versions: string | null;
}

/**
 * The state of two sides of an app folded entity by entity into a temporary SQLite file, then
 * compared: memory holds a bounded number of entity states and one batch of entries at a time,
 * whatever the size of the app. Each event is folded with its stream's decider (as reads and
 * restores fold it); once a side is in, each entity's state becomes the entries its kind's diff
 * facts make (event catalog); the comparison is an ordered merge of both sides' entries by kind
 * and id, written as numbered changes that pages read. The changes go to a second, small file
 * (attached), so that a finished diff can be kept for its pages without the sides' states (`keep`).
 * The files are removed by `dispose`.
 */
export class StateDiff {
  private readonly cache = new Map<string, Folded>();
  private cacheSide: DiffSide | undefined;
  private readonly counts = new Map<string, ChangeCount>();
  private changes = 0;
  private result: DiffResult | undefined;

  private readonly readState: Database.Statement<[number, string], { state: string }>;
  private readonly writeState: Database.Statement<[number, string, string, string, string]>;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly resultFile: string,
    private readonly catalog: EventCatalog,
  ) {
    this.readState = db.prepare('SELECT state FROM states WHERE side = ? AND stream = ?');
    this.writeState = db.prepare('INSERT OR REPLACE INTO states (side, stream, kind, entity, state) VALUES (?, ?, ?, ?, ?)');
  }

  /** A new, empty diff in a file of its own under `dir`. */
  static async create(dir: string, catalog: EventCatalog): Promise<StateDiff> {
    await mkdir(dir, { recursive: true });
    const name = `diff-${randomUUID()}`;
    const file = join(dir, `${name}.sqlite`);
    const resultFile = join(dir, `${name}-changes.sqlite`);
    const db = new Database(file);
    try {
      // Scratch data: nothing here needs to survive a crash (the files are removed at start-up with DATA_DIR/tmp).
      db.prepare('ATTACH DATABASE ? AS result').run(resultFile);
      for (const schema of ['main', 'result']) {
        db.pragma(`${schema}.journal_mode = OFF`);
        db.pragma(`${schema}.synchronous = OFF`);
      }
      db.pragma('cache_size = -8192');
      db.exec(`
        CREATE TABLE states (side INTEGER NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL, entity TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (side, stream)) WITHOUT ROWID;
        CREATE TABLE entries (side INTEGER NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, label TEXT NOT NULL, properties TEXT NOT NULL, versions TEXT, PRIMARY KEY (side, kind, id)) WITHOUT ROWID;
        CREATE TABLE result.changes (seq INTEGER PRIMARY KEY, item TEXT NOT NULL);
      `);
    } catch (error) {
      db.close();
      await Promise.all([rm(file, { force: true }), rm(resultFile, { force: true })]);
      throw error;
    }
    return new StateDiff(db, file, resultFile, catalog);
  }

  /** Folds one event (upcast) of `stream`, an entity of `kind`, into `side`'s state. Sides are folded one after the other. */
  fold(side: DiffSide, stream: string, kind: StreamKind, entityId: string, event: DomainEvent): void {
    if (this.cacheSide !== side) {
      this.flush();
      this.cacheSide = side;
    }
    const { decider } = this.catalog.stream(kind);
    let folded = this.cache.get(stream);
    if (!folded) {
      const row = this.readState.get(SIDE[side], stream);
      folded = { kind, entityId, state: row ? (JSON.parse(row.state) as unknown) : decider.initialState() };
      if (this.cache.size >= CACHED_STATES) this.flush();
      this.cache.set(stream, folded);
    }
    folded.state = decider.evolve(folded.state, event);
  }

  private flush(): void {
    if (this.cache.size === 0 || this.cacheSide === undefined) return;
    const side = SIDE[this.cacheSide];
    this.db.transaction(() => {
      for (const [stream, folded] of this.cache) this.writeState.run(side, stream, folded.kind, folded.entityId, JSON.stringify(folded.state));
    })();
    this.cache.clear();
  }

  /** Once both sides are folded: compares them and keeps the changes, in order of kind and id, for `page`. */
  async compare(): Promise<void> {
    this.flush();
    const slicer = new TimeSlicer();
    for (const side of ['from', 'to'] as const) await this.makeEntries(side, slicer);
    const from = this.entriesOf('from', slicer);
    const to = this.entriesOf('to', slicer);
    const insert = this.db.prepare('INSERT INTO result.changes (seq, item) VALUES (?, ?)');
    let pending: DiffItem[] = [];
    const write = () => {
      this.db.transaction(() => {
        for (const item of pending) insert.run(++this.changes, JSON.stringify(item));
      })();
      pending = [];
    };
    const prefixes = new Map(this.catalog.streams.flatMap((definition) => (definition.diff?.fieldPrefix ? [[definition.diff.report, definition.diff.fieldPrefix] as const] : [])));
    let a = await from.next();
    let b = await to.next();
    while (!a.done || !b.done) {
      const order = a.done ? 1 : b.done ? -1 : compareKeys(a.value, b.value);
      const item = order < 0 ? changeOf(a.value as EntryRow, undefined, prefixes) : order > 0 ? changeOf(undefined, b.value as EntryRow, prefixes) : changeOf(a.value as EntryRow, b.value as EntryRow, prefixes);
      if (item) {
        const count = this.counts.get(item.kind) ?? { added: 0, removed: 0, changed: 0 };
        count[item.change] += 1;
        this.counts.set(item.kind, count);
        pending.push(item);
        if (pending.length >= BATCH) write();
      }
      if (order <= 0) a = await from.next();
      if (order >= 0) b = await to.next();
      const turn = slicer.tick();
      if (turn) await turn;
    }
    write();
    const summary: Record<string, ChangeCount> = {};
    for (const definition of this.catalog.streams) if (definition.diff) summary[definition.diff.report] = { added: 0, removed: 0, changed: 0 };
    for (const [kind, count] of this.counts) summary[kind] = { ...count };
    this.result = new DiffResult(this.db, 'result.changes', summary, this.changes);
  }

  /** Per kind the catalog's diff facts report (`schemas`…), how many entities were added, removed and changed. */
  summary(): Record<string, ChangeCount> {
    return this.compared().summary();
  }

  /** How many changes in all. */
  get total(): number {
    return this.compared().total;
  }

  /** See DiffResult.report. */
  report(after: number, limit: number): DiffPage {
    return this.compared().report(after, limit);
  }

  /**
   * Once compared: the changes alone, in their own file, for pages asked later; the sides' states
   * (most of the space) are removed now. The caller disposes of the result; this diff is done.
   */
  async keep(): Promise<DiffResult> {
    const compared = this.compared();
    const summary = compared.summary();
    const total = compared.total;
    this.result = undefined;
    this.cache.clear();
    this.db.exec('DETACH DATABASE result');
    this.db.close();
    await rm(this.file, { force: true });
    const db = new Database(this.resultFile, { readonly: true });
    return new DiffResult(db, 'changes', summary, total, this.resultFile);
  }

  /** Closes and removes the files (not a kept result's). */
  async dispose(): Promise<void> {
    this.cache.clear();
    if (this.db.open) {
      this.db.close();
      await rm(this.resultFile, { force: true });
    }
    await rm(this.file, { force: true });
  }

  private compared(): DiffResult {
    if (!this.result) throw new Error('compare() the sides before reading the diff');
    return this.result;
  }

  /** Turns one side's entity states into the entries their kinds' diff facts make, a batch at a time. */
  private async makeEntries(side: DiffSide, slicer: TimeSlicer): Promise<void> {
    const read = this.db.prepare<[number, string, number], { stream: string; kind: StreamKind; entity: string; state: string }>(
      'SELECT stream, kind, entity, state FROM states WHERE side = ? AND stream > ? ORDER BY stream LIMIT ?',
    );
    const put = this.db.prepare('INSERT OR REPLACE INTO entries (side, kind, id, label, properties, versions) VALUES (?, ?, ?, ?, ?, ?)');
    let after = '';
    for (;;) {
      const rows = read.all(SIDE[side], after, BATCH);
      if (rows.length === 0) return;
      after = rows.at(-1)!.stream;
      const entries = rows.flatMap((row) => {
        const diff = this.catalog.stream(row.kind).diff;
        return diff ? diff.entries(JSON.parse(row.state) as unknown, row.entity).map((entry) => ({ kind: diff.report, ...entry })) : [];
      });
      this.db.transaction(() => {
        for (const e of entries) put.run(SIDE[side], e.kind, e.id, e.label, canonicalJson(e.properties), e.versions ? canonicalJson(e.versions) : null);
      })();
      const turn = slicer.tick();
      if (turn) await turn;
    }
  }

  /** One side's entries in order of kind and id, read a batch at a time. */
  private async *entriesOf(side: DiffSide, slicer: TimeSlicer): AsyncGenerator<EntryRow> {
    const read = this.db.prepare<[number, string, string, string, number], EntryRow>(
      'SELECT kind, id, label, properties, versions FROM entries WHERE side = ? AND (kind > ? OR (kind = ? AND id > ?)) ORDER BY kind, id LIMIT ?',
    );
    let kind = '';
    let id = '';
    for (;;) {
      const rows = read.all(SIDE[side], kind, kind, id, BATCH);
      if (rows.length === 0) return;
      ({ kind, id } = rows.at(-1)!);
      yield* rows;
      const turn = slicer.tick();
      if (turn) await turn;
    }
  }
}

/** A compared diff's changes, numbered, with the counts of the whole: what pages read. */
export class DiffResult {
  private readonly page: Database.Statement<[number, number], { seq: number; item: string }>;

  constructor(
    private readonly db: Database.Database,
    table: string,
    private readonly counts: Record<string, ChangeCount>,
    readonly total: number,
    /** The file this result owns (a kept one), removed by `dispose`. */
    private readonly file?: string,
  ) {
    this.page = db.prepare(`SELECT seq, item FROM ${table} WHERE seq > ? ORDER BY seq LIMIT ?`);
  }

  summary(): Record<string, ChangeCount> {
    return structuredClone(this.counts);
  }

  /**
   * The summary and up to `limit` changes after the one numbered `after` (0 for the first page);
   * `next` is the `after` of the page that follows, null on the last.
   */
  report(after: number, limit: number): DiffPage {
    const rows = this.page.all(after, limit);
    const last = rows.at(-1)?.seq ?? after;
    return { summary: this.summary(), total: this.total, items: rows.map((row) => JSON.parse(row.item) as DiffItem), next: last < this.total ? String(last) : null };
  }

  async dispose(): Promise<void> {
    if (!this.file) return;
    if (this.db.open) this.db.close();
    await rm(this.file, { force: true });
  }
}

const compareKeys = (a: EntryRow, b: EntryRow): number => (a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : a.id !== b.id ? (a.id < b.id ? -1 : 1) : 0);

const parsed = (json: string | null | undefined): Record<string, unknown> => (json ? (JSON.parse(json) as Record<string, unknown>) : {});

/** What differs between the two entries of one entity (either may be absent); undefined when nothing does. */
function changeOf(before: EntryRow | undefined, after: EntryRow | undefined, fieldPrefixes: ReadonlyMap<string, string>): DiffItem | undefined {
  if (before && after && before.properties === after.properties && before.versions === after.versions) return undefined;
  const entry = (after ?? before)!;
  const change = !before ? 'added' : !after ? 'removed' : 'changed';
  const properties = differences(parsed(before?.properties), parsed(after?.properties));
  const prefix = fieldPrefixes.get(entry.kind);
  return {
    kind: entry.kind,
    id: entry.id,
    change,
    label: entry.label,
    labelBefore: before && after && before.label !== after.label ? before.label : null,
    properties,
    fields: prefix ? properties.flatMap((p) => (p.name.startsWith(prefix) ? [p.name.slice(prefix.length)] : [])) : [],
    versionsAdded: onlyIn(parsed(after?.versions), parsed(before?.versions)),
    versionsRemoved: onlyIn(parsed(before?.versions), parsed(after?.versions)),
  };
}

function differences(before: Record<string, unknown>, after: Record<string, unknown>): PropertyChange[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes: PropertyChange[] = [];
  for (const name of names) {
    const a = name in before ? canonicalJson(before[name]) : undefined;
    const b = name in after ? canonicalJson(after[name]) : undefined;
    if (a === b) continue;
    changes.push({ name, change: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed', before: a === undefined ? null : shownValue(a), after: b === undefined ? null : shownValue(b) });
  }
  return changes;
}

/** The versions `side` has that `other` lacks or has with another value, in version order. */
function onlyIn(side: Record<string, unknown>, other: Record<string, unknown>): VersionChange[] {
  return Object.keys(side)
    .filter((version) => !(version in other) || canonicalJson(other[version]) !== canonicalJson(side[version]))
    .sort((x, y) => Number(x) - Number(y) || (x < y ? -1 : 1))
    .map((version) => ({ version, value: shownValue(canonicalJson(side[version])) }));
}
