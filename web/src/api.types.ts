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

export interface Backup extends Job {
  appId: string;
  appName: string;
  label: string | null;
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
  log: { at: string; message: string }[];
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
}
