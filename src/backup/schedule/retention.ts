import type { BackupTrigger } from '../shared/backup-job.js';
import type { JobStatus } from '../../jobs/job-record.js';

/**
 * Which scheduled backups a policy keeps, restic-style (`forget --keep-last/--keep-daily/…`).
 * A pure function of the backups and the rules, so it is tested with fixed dates.
 *
 * - Only Completed scheduled backups are selected among: `keepLast` keeps the N newest;
 *   `keepDaily`/`keepWeekly`/`keepMonthly` keep the newest backup of each of the last N UTC days /
 *   ISO weeks / months that have a backup (as restic counts them). A backup kept by any rule is kept.
 * - The newest Completed backup of the app (of any trigger) is always kept.
 * - Manual (and any non-scheduled) backups are never pruned; neither are running ones.
 * - A Failed scheduled backup older than the newest Completed scheduled backup is pruned: a later
 *   run has superseded it. Newer failures stay, so their error can be read.
 * - A policy without any keep rule prunes nothing.
 * - The base of every backup that stays (kept by a rule, held by a lock, manual, running), and the
 *   base of that base down to the chain's full backup, stays too: an incremental backup cannot be
 *   restored without them. The plan says which backups its rules would delete were kept so.
 */
export interface RetentionRules {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface RetentionCandidate {
  id: string;
  created: string;
  status: JobStatus;
  trigger: BackupTrigger;
  /** The latest lock on any of its copies, as the store reported it (ISO time); absent or null: none. */
  lockedUntil?: string | null;
  /** The repository of that lock. */
  lockedIn?: string;
  /** An incremental backup: the backup it continues. */
  base?: string | null;
}

/**
 * What a retention run does: the backups it deletes (oldest first), those its rules would delete that a lock holds, and those they would delete that kept
 * incremental backups continue (their bases).
 */
export interface PruningPlan {
  prune: string[];
  held: { id: string; repository: string; until: string }[];
  bases: string[];
}

/**
 * `selectForPruning`, minus the backups with a copy still locked at `now`: the store would refuse
 * to delete that copy, so retention keeps the whole backup (and says so) and deletes it on a later
 * run, once the lock has passed.
 */
export function planPruning(backups: readonly RetentionCandidate[], rules: RetentionRules, now: string): PruningPlan {
  const byId = new Map(backups.map((backup) => [backup.id, backup]));
  const plan: PruningPlan = { prune: [], held: [], bases: [] };
  const unlocked: string[] = [];
  for (const id of selectByRules(backups, rules)) {
    const backup = byId.get(id);
    if (backup?.lockedUntil && backup.lockedUntil > now) plan.held.push({ id, repository: backup.lockedIn ?? 'a repository', until: backup.lockedUntil });
    else unlocked.push(id);
  }
  const { prune, bases } = keepBases(backups, unlocked);
  return { ...plan, prune, bases };
}

/**
 * Of the backups `selected` for deletion, those a backup that stays continues (directly or down its
 * chain) are kept as bases; the rest are pruned. Failed backups hold no archive and need no base.
 */
export function keepBases(backups: readonly RetentionCandidate[], selected: readonly string[]): { prune: string[]; bases: string[] } {
  const byId = new Map(backups.map((backup) => [backup.id, backup]));
  const pruned = new Set(selected);
  const bases = new Set<string>();
  for (const backup of backups) {
    if (pruned.has(backup.id) || backup.status === 'Failed') continue;
    const walked = new Set<string>();
    for (let base = backup.base; base && !walked.has(base); base = byId.get(base)?.base) {
      walked.add(base);
      if (pruned.has(base)) bases.add(base);
    }
  }
  return { prune: selected.filter((id) => !bases.has(id)), bases: selected.filter((id) => bases.has(id)) };
}

export function hasRetention(rules: RetentionRules): boolean {
  return rules.keepLast !== undefined || rules.keepDaily !== undefined || rules.keepWeekly !== undefined || rules.keepMonthly !== undefined;
}

/** The ids of the backups to delete, oldest first: those the rules select, but for the bases of backups that stay. */
export function selectForPruning(backups: readonly RetentionCandidate[], rules: RetentionRules): string[] {
  return keepBases(backups, selectByRules(backups, rules)).prune;
}

/** The ids of the backups the keep rules alone would delete, oldest first. */
function selectByRules(backups: readonly RetentionCandidate[], rules: RetentionRules): string[] {
  if (!hasRetention(rules)) return [];
  const newestFirst = [...backups].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  const newestCompleted = newestFirst.find((b) => b.status === 'Completed');
  if (newestCompleted) keep.add(newestCompleted.id);
  const completed = newestFirst.filter((b) => b.trigger === 'scheduled' && b.status === 'Completed');
  completed.slice(0, rules.keepLast ?? 0).forEach((b) => keep.add(b.id));
  for (const [count, bucket] of [
    [rules.keepDaily, dayOf],
    [rules.keepWeekly, isoWeekOf],
    [rules.keepMonthly, monthOf],
  ] as const) {
    if (!count) continue;
    const seen = new Set<string>();
    for (const backup of completed) {
      const key = bucket(new Date(backup.created));
      if (seen.has(key)) continue;
      if (seen.size >= count) break;
      seen.add(key);
      keep.add(backup.id);
    }
  }
  const newestScheduledCompleted = completed[0]?.created;
  return newestFirst
    .filter((b) => b.trigger === 'scheduled' && !keep.has(b.id))
    .filter((b) => b.status === 'Completed' || (b.status === 'Failed' && newestScheduledCompleted !== undefined && b.created < newestScheduledCompleted))
    .map((b) => b.id)
    .reverse();
}

const pad = (n: number) => String(n).padStart(2, '0');
export const dayOf = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
export const monthOf = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;

/** ISO 8601 week, `2026-W49`: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeekOf(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const year = day.getUTCFullYear();
  const week = Math.ceil(((day.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${pad(week)}`;
}

/**
 * How many Completed scheduled backups the rules would keep once one more (taken at `now`) has
 * completed: what a scheduled run would leave stored. Without keep rules nothing is pruned, so
 * it is every Completed scheduled backup plus the new one. Failed backups hold no archive and are
 * not counted.
 */
export function keptWithOneMore(backups: readonly RetentionCandidate[], rules: RetentionRules, now: string): number {
  const next: RetentionCandidate = { id: '\uffff', created: now, status: 'Completed', trigger: 'scheduled' };
  const all = [...backups, next];
  const pruned = new Set(selectForPruning(all, rules));
  return all.filter((b) => b.trigger === 'scheduled' && b.status === 'Completed' && !pruned.has(b.id)).length;
}

/** The most scheduled backups the rules can keep: each keep rule keeps at most its count, and a backup kept by several counts once. */
export function mostKept(rules: RetentionRules): number {
  return (rules.keepLast ?? 0) + (rules.keepDaily ?? 0) + (rules.keepWeekly ?? 0) + (rules.keepMonthly ?? 0);
}

export const KEEP_RULES = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;
