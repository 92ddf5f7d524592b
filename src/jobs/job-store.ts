import type { Filter, FindOptions, ReadCollection, ReadStore, Scalar } from '../infrastructure/read-store/read-store.port.js';
import { notFound } from '../platform/domain-errors.js';
import type { Page } from '../contract/paging.schemas.js';
import { hasEnded, type JobRecord } from './job-record.js';

/** Where a kind's jobs live: a read-store collection of its own (installations have data in them: never rename one). */
export interface JobCollection {
  name: string;
  indexes: (string | readonly string[])[];
}

/** The jobs of one kind, in their own collection of the read store. */
export class JobStore<J extends JobRecord> {
  private readonly docs: ReadCollection<J>;
  private readonly noun: string;

  /** `kind` names the jobs in messages: "Backup 42 does not exist". */
  constructor(store: ReadStore, kind: string, collection: JobCollection) {
    this.docs = store.collection<J>(collection.name, { indexes: collection.indexes });
    this.noun = kind.charAt(0).toUpperCase() + kind.slice(1);
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
  async require(id: string, scope: Record<string, Scalar> = {}): Promise<J> {
    const job = await this.docs.get(id);
    if (!job || Object.entries(scope).some(([field, value]) => Reflect.get(job, field) !== value)) throw notFound(`${this.noun} ${id} does not exist`);
    return job;
  }

  /** Whether job `id` has recorded its outcome (it frees its slot right after). */
  async hasEnded(id: string): Promise<boolean> {
    const job = await this.docs.get(id);
    return job !== undefined && hasEnded(job);
  }
}
