import { type CollectionWrite, type Doc, type DocChange, type Filter, matchesFilter, type ReadCollection } from '../infrastructure/read-store/read-store.port.js';

interface Entry<T> {
  doc: T | undefined;
  /** false: read from the store (or removed by a deleteWhere that is staged anyway), nothing to write. */
  dirty: boolean;
}

/**
 * One collection's documents as a slice of events leaves them: reads go to the staged state first,
 * then to the store; writes stay in memory until the engine commits the slice, so a document that
 * many events touch is written once.
 */
export class StagedCollection<T extends Doc> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly cleared: Filter[] = [];

  constructor(readonly collection: ReadCollection<T>) {}

  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<T | undefined> {
    const hit = this.entries.get(key);
    if (hit) return hit.doc;
    let doc = await this.collection.get(key);
    if (doc && this.cleared.some((filter) => matchesFilter(doc!, filter))) doc = undefined;
    this.entries.set(key, { doc, dirty: false });
    return doc;
  }

  put(doc: T): void {
    this.entries.set(this.collection.keyOf(doc), { doc, dirty: true });
  }

  delete(key: string): void {
    this.entries.set(key, { doc: undefined, dirty: true });
  }

  /** Removes the matching documents, staged and stored; documents put afterwards stay. */
  deleteWhere(filter: Filter): void {
    for (const [key, entry] of this.entries) {
      // The staged deleteWhere removes the stored copy; a staged-only one simply is never written.
      if (entry.doc && matchesFilter(entry.doc, filter)) this.entries.set(key, { doc: undefined, dirty: false });
    }
    this.cleared.push(filter);
  }

  /** deleteWhere first, in the order given, then each document's final state. */
  changes(): DocChange[] {
    const changes: DocChange[] = this.cleared.map((filter) => ({ deleteWhere: filter }));
    for (const [key, entry] of this.entries) {
      if (entry.dirty) changes.push(entry.doc ? { put: entry.doc } : { delete: key });
    }
    return changes;
  }
}

/** The unit of work of one slice of events: the staged state of every collection it touches. */
export class ProjectionTx {
  private readonly staged = new Map<string, StagedCollection<Doc>>();

  of<T extends Doc>(collection: ReadCollection<T>): StagedCollection<T> {
    let staged = this.staged.get(collection.name);
    if (!staged) {
      staged = new StagedCollection<Doc>(collection as unknown as ReadCollection<Doc>);
      this.staged.set(collection.name, staged);
    }
    return staged as unknown as StagedCollection<T>;
  }

  /** Documents staged so far (read or written); bounds the memory of one slice. */
  get size(): number {
    let size = 0;
    for (const staged of this.staged.values()) size += staged.size;
    return size;
  }

  /** What to commit, leaving out the collections held back (see Projection.gate). */
  writes(hold: ReadonlySet<string> = new Set()): CollectionWrite[] {
    const writes: CollectionWrite[] = [];
    for (const [name, staged] of this.staged) {
      if (hold.has(name)) continue;
      const changes = staged.changes();
      if (changes.length > 0) writes.push({ collection: name, changes });
    }
    return writes;
  }

  /** A new unit of work that keeps the held collections' staged state (the rest was committed). */
  carry(hold: ReadonlySet<string>): ProjectionTx {
    const next = new ProjectionTx();
    for (const [name, staged] of this.staged) if (hold.has(name)) next.staged.set(name, staged);
    return next;
  }
}
