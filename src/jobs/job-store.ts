import type { Filter, FindOptions, ReadCollection, ReadStore } from '../infrastructure/read-store/read-store.port.js';
import { notFound } from '../platform/domain-errors.js';
import type { Page } from '../platform/http/paging.js';
import { isActive, type JobRecord } from './job-record.js';

export interface JobStoreOptions {
  /** The kind's noun, capitalized in messages: "Backup 42 does not exist". */
  kind: string;
  /** The read-store collection the kind's jobs live in (one per kind; installations have data in them). */
  collection: string;
  indexes: (string | readonly string[])[];
}

/** The jobs of one kind, in their own collection of the read store. */
export class JobStore<J extends JobRecord> {
  private readonly docs: ReadCollection<J>;
  private readonly noun: string;

  constructor(store: ReadStore, options: JobStoreOptions) {
    this.docs = store.collection<J>(options.collection, { indexes: options.indexes });
    this.noun = options.kind.charAt(0).toUpperCase() + options.kind.slice(1);
  }

  get(id: string): Promise<J | undefined> {
    return this.docs.get(id);
  }

  put(job: J): Promise<void> {
    return this.docs.put(job);
  }

  delete(id: string): Promise<void> {
    return this.docs.delete(id);
  }

  find(filter: Filter, options?: FindOptions): Promise<{ total: number; items: J[] }> {
    return this.docs.find(filter, options);
  }

  /** Newest first. */
  list(page: Page, filter: Filter = {}): Promise<{ total: number; items: J[] }> {
    return this.docs.find(filter, { sort: [{ field: 'created', direction: 'desc' }], ...page });
  }

  /**
   * The job, or a 404; with `scope`, only a job whose fields match it, so one app's job id cannot
   * reach another app's job.
   */
  async require(id: string, scope: Partial<J> = {}): Promise<J> {
    const job = await this.docs.get(id);
    if (!job || (Object.keys(scope) as (keyof J)[]).some((key) => scope[key] !== undefined && job[key] !== scope[key])) throw notFound(`${this.noun} ${id} does not exist`);
    return job;
  }

  /** Whether job `id` has recorded its outcome (it frees its slot right after). */
  async hasEnded(id: string): Promise<boolean> {
    const job = await this.docs.get(id);
    return job !== undefined && !isActive(job);
  }
}
