/** The shapes the page reads, as docs/api.md gives them. */
export type Role = 'Owner' | 'Developer' | 'Editor' | 'Reader';
export type JobStatus = 'Scheduled' | 'Running' | 'Completed' | 'Failed';

export interface Me {
  id: string;
  email: string;
  displayName: string;
  admin: boolean;
}

export interface App {
  id: string;
  name: string;
  label: string;
  description: string;
  created: string;
  contributors: { userId: string; email: string; role: Role }[];
}

export interface Progress {
  done: number;
  total: number;
  unit: string;
}

export interface Job {
  id: string;
  status: JobStatus;
  created: string;
  started: string | null;
  completed: string | null;
  error: string | null;
  phase: string;
  progress: Progress;
  percent: number;
  etaSeconds: number | null;
}

/** Which assets a partial backup holds: all, those its contents reference, or none. */
export type AssetChoice = 'all' | 'referenced' | 'none';
export const ASSET_CHOICES: readonly AssetChoice[] = ['all', 'referenced', 'none'];

/** What a partial backup (or a policy's backups) holds; `null` in a list: all of that kind. */
export interface BackupSelection {
  schemas: string[] | null;
  contents: string[] | null;
  assets: AssetChoice;
}

/** Who started a backup: a person, the app's backup policy, or a rollback (before it writes). */
export type BackupTrigger = 'manual' | 'scheduled' | 'safety';

export interface Backup extends Job {
  appId: string;
  appName: string;
  label: string | null;
  trigger: BackupTrigger;
  /** `null` for a backup of the whole app. */
  include: BackupSelection | null;
  partial: boolean;
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number | null;
  sha256: string | null;
  warnings: string[];
}

export interface Restore extends Job {
  source: string;
  name: string | null;
  appId: string | null;
  eventCount: number;
  restoredEvents: number;
  restoredAssets: number;
  /** Known once the archive is checked: a partial archive's selection, else `null`. */
  include: BackupSelection | null;
  partial: boolean;
  log: LogLine[];
}

export interface LogLine {
  at: string;
  message: string;
}

export interface Schema {
  id: string;
  name: string;
}

/** PUT /api/apps/{app}/backup-policy: scheduled backups (cron, UTC) and their retention. */
export interface BackupPolicy {
  appId: string;
  appName: string;
  schedule: string;
  include: BackupSelection | null;
  keepLast: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
  nextRun: string;
  lastRun: string | null;
  lastBackupId: string | null;
  lastError: string | null;
  created: string;
  updated: string;
}

export const KEEP_RULES = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;
export type KeepRule = (typeof KEEP_RULES)[number];

/** Per kind, what a rollback creates again, changes back or deletes (schemas by name, the rest by id). */
export interface KindChanges {
  created: string[];
  changed: string[];
  deleted: string[];
}

export interface RollbackChanges {
  schemas: KindChanges;
  contents: KindChanges;
  assets: KindChanges;
}

export interface ChangeCounts {
  created: number;
  changed: number;
  deleted: number;
}

export interface RollbackTarget {
  backupId: string | null;
  untilEvent: number | null;
  until: string | null;
  position: number;
  /** The number of the app's last event in the state rolled back to (newer servers). */
  event?: number;
}

/** POST /api/apps/{app}/rollback with dryRun: what a rollback would change, nothing written. */
export interface RollbackPreflight {
  dryRun: true;
  app: { id: string; name: string };
  target: RollbackTarget;
  changes: RollbackChanges;
  counts: ChangeCounts;
  events: number;
}

export interface Rollback extends Job {
  appId: string;
  appName: string;
  target: RollbackTarget;
  safetyBackupId: string | null;
  changes: RollbackChanges | null;
  counts: ChangeCounts | null;
  appendedEvents: number;
  /** Set when the rollback was left partly applied (EventStoreDB writes stream by stream); its error says what is stored. */
  partial?: { writtenStreams: number; failedStream: string; uncertain: boolean; remainingStreams: number; recovery: null | 'finished' | 'app-changed' } | null;
  log: LogLine[];
}

export interface DownloadLink {
  id: string;
  url: string;
  expires: string;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export const isRunning = (job: Job): boolean => job.status === 'Scheduled' || job.status === 'Running';

/** A restore's dry run (POST /api/restore with dryRun): every check a restore makes, nothing written. */
export interface RestorePreflight {
  dryRun: true;
  valid: boolean;
  error: string | null;
  source: string;
  sizeBytes: number | null;
  name: { value: string; available: boolean; reason: string | null } | null;
  app: { id: string; name: string } | null;
  archive: { created: string; formatVersion: number; firstEventAt: string | null; lastEventAt: string | null } | null;
  events: { inArchive: number; toRestore: number } | null;
  files: number | null;
  users: { mapped: string[]; created: string[] } | null;
  missing: { name: string; reason: string }[];
  warnings: string[];
  /** Whether the archive is a partial backup (null when it could not be read), and what it holds. */
  partial?: boolean | null;
  include?: BackupSelection | null;
}
