import type { LockMode } from '../../infrastructure/repository-store/repository-store.port.js';
import { LOCAL_REPOSITORY } from '../../repositories/shared/repository-registry.port.js';
import type { BackupSelection } from './backup-selection.js';
import type { Encryption } from '../../contract/encryption.schemas.js';
import type { JobRecord, JobStatus } from '../../jobs/job-record.js';

export { isActive, type JobStatus } from '../../jobs/job-record.js';

/** Who started a backup: a person (`manual`), an app's backup policy (`scheduled`) or a rollback, before it writes (`safety`). */
export type BackupTrigger = 'manual' | 'scheduled' | 'safety';

/**
 * One copy of a backup's archive in one repository (`written` null and `error` set when it could
 * not be written). A copy is recorded only once it is whole and checked, or has failed: never
 * half.
 */
export interface BackupCopy {
  repository: string;
  key: string;
  sizeBytes: number;
  sha256: string | null;
  written: string | null;
  verified: string | null;
  lockedUntil: string | null;
  error: string | null;
}

/** A backup job as stored (job state, not a projection: rebuilds never touch it) and as served. */
export interface BackupJob extends JobRecord {
  id: string;
  appId: string;
  appName: string;
  label: string;
  /** Absent on jobs stored before triggers existed: those were all manual. */
  trigger?: BackupTrigger;
  /** What a partial backup holds; `null` (or absent, on jobs stored before partial backups) for the whole app. */
  include?: BackupSelection | null;
  status: JobStatus;
  created: string;
  createdBy: string;
  started: string | null;
  completed: string | null;
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number;
  sha256: string | null;
  error: string | null;
  warnings: string[];
  /** The store position the app was taken at (absent on jobs stored before rollbacks existed). */
  position?: number;
  /** The repositories asked for, by name (absent on jobs stored before repositories existed: `local`). */
  repositories?: string[];
  /** The copies made, one per repository asked for once the run is over (absent before repositories existed). */
  copies?: BackupCopy[];
  /** The Object Lock a policy asked for its copies (where the repository can lock). */
  objectLock?: { mode: LockMode; days: number } | null;
  /** Who can open an encrypted archive (its recipients, or a passphrase); null or absent for a plain zip. */
  encryption?: Encryption | null;
  /** The archive holds its users' API key hashes (credentials.json): an admin asked, and it is encrypted. */
  credentials?: boolean;
  /** An incremental backup: the backup it continues, as its manifest names it (null or absent: a full backup). */
  base?: IncrementalBase | null;
  /** An incremental backup's place in its chain (null or absent: a full backup). */
  chain?: ChainPlace | null;
}

/** The backup an incremental continues: its id, the SHA-256 of its archive as stored, the position it ends at, and the events its chain holds. */
export interface IncrementalBase {
  id: string;
  sha256: string;
  position: number;
  events: number;
}

/** The full backup a chain starts from, when it was made, and how many increments (this one included) follow it. */
export interface ChainPlace {
  full: string;
  fullCreated: string;
  depth: number;
}

/** How many events the backup's chain holds up to and including it (its own, for a full backup). */
export const chainEventsOf = (job: Pick<BackupJob, 'base' | 'eventCount'>) => (job.base?.events ?? 0) + job.eventCount;

export const isIncremental = (job: { base?: IncrementalBase | null }) => Boolean(job.base);

/** Whether the backup's archive is encrypted (age): `….zip.age`, its size and SHA-256 those of the encrypted file. */
export const isEncrypted = (job: { encryption?: Encryption | null }) => Boolean(job.encryption);

/** An archive's file extension: `.zip`, or `.zip.age` when it is encrypted. */
export const archiveExtension = (job: { encryption?: Encryption | null }) => (isEncrypted(job) ? '.zip.age' : '.zip');

/** Where a backup's archive lies in the installation's archive store. */
export const archiveKey = (job: { id: string; encryption?: Encryption | null }) => `backups/${job.id}${archiveExtension(job)}`;

export const isPartial = (job: { include?: BackupSelection | null }) => Boolean(job.include);

export const triggerOf = (job: { trigger?: BackupTrigger }): BackupTrigger => job.trigger ?? 'manual';

/** The repositories a backup was asked to go to; jobs stored before repositories existed went to `local`. */
export const targetsOf = (job: { repositories?: string[] }): string[] => job.repositories ?? [LOCAL_REPOSITORY];

/** A backup's copies; a Completed backup stored before repositories existed has its archive in `local`. */
export function copiesOf(job: Pick<BackupJob, 'id' | 'status' | 'completed' | 'sizeBytes' | 'sha256' | 'copies' | 'encryption'>): BackupCopy[] {
  if (job.copies) return job.copies;
  if (job.status !== 'Completed') return [];
  return [{ repository: LOCAL_REPOSITORY, key: archiveKey(job), sizeBytes: job.sizeBytes, sha256: job.sha256, written: job.completed, verified: job.completed, lockedUntil: null, error: null }];
}

/** Whether the backup's archive lies in the installation's own store. */
export const hasLocalArchive = (job: Parameters<typeof copiesOf>[0]) => copiesOf(job).some((copy) => copy.repository === LOCAL_REPOSITORY && copy.written !== null);

/**
 * Walks an incremental backup's chain through the backup records, base by base down to the full
 * backup: each base must be there, Completed, with the SHA-256 and end position its increment
 * names. Answers the problem, naming the base, or null when the chain is whole. (A restore also
 * reads and checks each base's archive; this is the check on the records alone.)
 */
export async function chainProblem(backup: BackupJob, get: (id: string) => Promise<BackupJob | undefined>): Promise<string | null> {
  const seen = new Set<string>();
  for (let link = backup; link.base; ) {
    const { id, sha256, position } = link.base;
    if (seen.has(id)) return `The chain of backup ${backup.id} loops at backup ${id}`;
    seen.add(id);
    const base = await get(id);
    if (!base || base.status !== 'Completed') return `The base backup ${id} of incremental backup ${link.id} is missing${base ? ` (it is ${base.status})` : ''}`;
    if (base.sha256 !== sha256 || base.position !== position) return `The base backup ${id} of incremental backup ${link.id} has been altered: its SHA-256 or position differs from what the increment names`;
    link = base;
  }
  return null;
}
