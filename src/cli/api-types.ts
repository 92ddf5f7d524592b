/**
 * What the CLI reads from the HTTP API (docs/api.md, and its v1.1 additions). Fields the server
 * adds later (`phase`, `progress`, `percent`, `etaSeconds`) are optional: an older server lacks them.
 */
export type JobStatus = 'Scheduled' | 'Running' | 'Completed' | 'Failed';

export interface JobProgressFields {
  phase?: string | null;
  progress?: { done: number; total: number; unit: string } | null;
  percent?: number | null;
  etaSeconds?: number | null;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface App {
  id: string;
  name: string;
  label: string;
  description: string;
  version: number;
  created: string;
  lastModified: string;
  contributors: { userId: string; email: string; role: string }[];
}

export interface Backup extends JobProgressFields {
  id: string;
  appId: string;
  appName: string;
  label: string;
  status: JobStatus;
  created: string;
  started: string | null;
  completed: string | null;
  eventCount: number;
  assetCount: number;
  userCount: number;
  sizeBytes: number;
  sha256: string | null;
  error: string | null;
  warnings: string[];
}

export interface Restore extends JobProgressFields {
  id: string;
  status: JobStatus;
  source: string;
  name: string | null;
  appId: string | null;
  created: string;
  started: string | null;
  completed: string | null;
  eventCount: number;
  restoredEvents: number;
  restoredAssets: number;
  log: { at: string; message: string }[];
  error: string | null;
}

export interface BackupLink {
  id: string;
  url: string;
  expires: string;
}

export interface ApiErrorBody {
  statusCode?: number;
  error?: string;
  message?: string | string[];
}

export const isEnded = (job: { status: JobStatus }) => job.status === 'Completed' || job.status === 'Failed';
