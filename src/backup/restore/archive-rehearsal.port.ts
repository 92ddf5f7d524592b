import type { BackupSelection } from '../shared/backup-selection.js';
import type { ArchiveCheckReport } from '../../archive/archive-check.js';

/** What a rehearsal of a restore found: the archive passed every check a restore makes. */
export interface ArchiveRehearsalReport {
  app: { id: string; name: string };
  formatVersion: number;
  created: string;
  counts: ArchiveCheckReport;
  /** Events a restore would append (all, or up to the point in time). */
  checkedEvents: number;
  /** File versions read and compared with the SHA-256 their events record. */
  checkedFiles: number;
  missing: { name: string; reason: string }[];
  warnings: string[];
  /** A partial archive's selection; null for a whole app. */
  include: BackupSelection | null;
  /** What the restore would log about the events (dangling references). */
  notes: string[];
  /** Archived users by email: mapped to users of this installation, or to be created (without keys). */
  users: { mapped: string[]; created: string[] };
}

/**
 * Runs every check a restore makes on an archive, writing nothing (a restore's dry run). Provided
 * by the archive-checks module, which builds the handlers with stand-ins that only read and hash;
 * the backup core sees this port only. Throws InvalidArchiveError with the restore's message.
 */
export interface ArchiveRehearsal {
  rehearse(file: string, options: { untilEvent?: number; until?: string }): Promise<ArchiveRehearsalReport>;
}

export const ARCHIVE_REHEARSAL = Symbol('ARCHIVE_REHEARSAL');
