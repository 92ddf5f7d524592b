import type { Restore } from '../../contract/restores.schemas.js';
import type { BackupSelection } from '../shared/backup-selection.js';
import { type PhasePlan, progressOf } from '../../jobs/job-progress.js';
import type { JobLogLine, JobRecord, JobStatus } from '../../jobs/job-record.js';
import type { RestoreStep } from '../shared/restore-steps.js';
import type { RestoreCheckpoint } from '../../archive/archive-restore.js';

/** A restore job as stored. Fields after `error` are internal and never served. */
export interface RestoreJob extends JobRecord {
  id: string;
  status: JobStatus;
  source: string;
  name: string | null;
  appId: string | null;
  created: string;
  started: string | null;
  completed: string | null;
  eventCount: number;
  /** The selection of a partial archive, known once the archive is checked; null for a whole app. */
  include?: BackupSelection | null;
  restoredEvents: number;
  restoredAssets: number;
  log: JobLogLine[];
  error: string | null;

  createdBy: string;
  /** Owns the name reservation; needed to commit it or to free it after a failure or crash. */
  nameToken: string | null;
  /** The archive on local disk while the job runs. */
  archiveFile: string | null;
  /**
   * An uploaded archive kept in the blob store for the process that runs the job, when another
   * process received the upload (see JobHandOff); removed when the job ends.
   */
  stagedArchive?: string | null;
  /** While the job waits for the process that runs the projections: its slot's token, which that process takes over. */
  slotToken?: string | null;
  backupId: string | null;
  url: string | null;
  /** A copy in a backup repository: the repository's name and the archive's key there. */
  repository?: { name: string; key: string } | null;
  untilEvent: number | null;
  until: string | null;
  /** What the handlers must undo if the restore fails (see RestoreContext.remember), by key. */
  cleanup?: Record<string, string[]>;
  /** The archive as this restore checked it: a resume refuses one whose bytes differ. */
  archive?: { sha256: string; size: number } | null;
  /** The archive came encrypted (age) and `archiveFile` is its decrypted copy (0600, under DATA_DIR/tmp). */
  encrypted?: boolean;
  /** Where the restore stands, written with its commits: what a resume continues from (see RestoreJournal). */
  journal?: RestoreJournal | null;
  /** How often it was resumed: a resumed run that cannot open its encrypted archive stays Interrupted, waiting for the key. */
  resumes?: number;
  /** What identifies the archive at `url` or in the repository (ETag, Last-Modified, size), once the download began: a resume continues it from where it stopped against it. */
  download?: DownloadValidator | null;
}

/**
 * A restore's journal, kept on its job (never a secret in it: no key, no URL credentials). The
 * events go in batches; before each append the journal notes the batch as `pending` (with the
 * state once it is in), after it as `written`. A resume counts the new app's events the store holds
 * after `written.position` to learn which of the two is true. `projectedThrough`: the read store
 * holds every document projected up to that position (but the held gate document).
 */
export interface RestoreJournal {
  written: RestoreCheckpoint & { position: number };
  pending: RestoreCheckpoint | null;
  projectedThrough: number;
  /** Every event is in; what is left is finishing the projections, the Owner grant and the name. */
  eventsDone: boolean;
}

/** What identifies the bytes at a URL or a repository's copy (its ETag, else its Last-Modified) and how many there are: what a download cut short resumes against. */
export interface DownloadValidator {
  etag: string | null;
  lastModified: string | null;
  size: number | null;
}

/**
 * Whether `seen` names other bytes than `known`, the validator a download cut short noted: another
 * ETag (or, without one, another Last-Modified), or another size. A download is only continued
 * against the same bytes (URL and repository sources alike).
 */
export function archiveChanged(known: DownloadValidator, seen: DownloadValidator): boolean {
  if (known.etag !== null ? seen.etag !== known.etag : known.lastModified !== null && seen.lastModified !== known.lastModified) return true;
  return known.size !== null && seen.size !== null && seen.size !== known.size;
}

export type RestoreView = Restore;

export function toRestoreView(job: RestoreJob): RestoreView {
  const { id, status, source, name, appId, created, started, completed, eventCount, restoredEvents, restoredAssets, log, error } = job;
  const include = job.include ?? null;
  return { id, status, source, name, appId, created, started, completed, eventCount, include, partial: include !== null, restoredEvents, restoredAssets, log, error, ...progressOf(job) };
}

/**
 * What a restore does, in order, with each phase's share of its time (measured on the mix
 * benchmark: checking the archive is about a fifth, appending and projecting the events most of
 * the rest). Files are restored alongside the events, so they have no phase of their own.
 */
export type RestorePhase = 'fetching' | 'verifying' | 'reserving' | 'users' | 'events' | 'rebuilding' | 'committing';
export const RESTORE_PHASES: PhasePlan<RestorePhase> = {
  fetching: [0, 5],
  verifying: [5, 25],
  reserving: [25, 25],
  users: [25, 26],
  events: [26, 94],
  rebuilding: [94, 99],
  committing: [99, 100],
};

export { RESTORE_STEPS, type RestoreStep } from '../shared/restore-steps.js';

/** The phase a step starts (steps the handlers announce, like `assets`, start none). */
export const PHASE_OF_STEP: Partial<Record<RestoreStep, RestorePhase>> = {
  fetch: 'fetching',
  verify: 'verifying',
  reserve: 'reserving',
  users: 'users',
  events: 'events',
  rebuild: 'rebuilding',
  commit: 'committing',
};

/** Redacts credentials and query strings (often signed tokens) from a URL before it is shown or logged. */
export function describeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    const redacted = url.search ? '?…' : '';
    url.search = '';
    url.hash = '';
    return `${url.toString()}${redacted}`;
  } catch {
    return '(invalid URL)';
  }
}
