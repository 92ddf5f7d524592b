/**
 * The answers of one collection's `get` and `findOne`, as the JSON of the document found, for
 * collections read on every request and written rarely (the API key's user, the app an access
 * check reads, the schema a content write names). Each answer is parsed again when served, so a
 * caller that changes the document it got changes nothing here.
 *
 * Never stale: the collection drops every answer at each write it makes (before the write, so a
 * rolled-back transaction leaves nothing behind either), answers read inside a transaction are not
 * kept (it may still roll back), and SQLite's `data_version`, read at every look-up, tells of
 * commits by any other connection to the file (a second process, as replicas' tests run), which
 * drop every answer too. A revoked API key or a removed contributor is therefore refused by the
 * first request after the projection wrote the change. Absent documents are not kept, so unknown
 * keys cannot crowd out the known ones. Bounded: the oldest answer goes first.
 */
export class LookupCache {
  private readonly docs = new Map<string, string>();
  private version: number | undefined;

  constructor(
    private readonly dataVersion: () => number,
    private readonly max = 1000,
  ) {}

  /** The document kept for this look-up, or undefined: then read it and `keep` it. */
  get(lookup: string): string | undefined {
    const version = this.dataVersion();
    if (version !== this.version) {
      this.docs.clear();
      this.version = version;
    }
    return this.docs.get(lookup);
  }

  keep(lookup: string, doc: string): void {
    if (this.docs.size >= this.max) this.docs.delete(this.docs.keys().next().value!);
    this.docs.set(lookup, doc);
  }

  clear(): void {
    this.docs.clear();
  }
}
