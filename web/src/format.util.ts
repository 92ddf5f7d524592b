import type { Selection } from '@contract/backups.schemas.js';
import type { Job } from '@contract/client/job-events.js';

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Times as the API gives them (UTC), shown in the reader's own time zone with the date. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'estimating time left';
  if (seconds <= 0) return 'no time left';
  if (seconds < 60) return `about ${Math.ceil(seconds)} s left`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `about ${minutes} min ${Math.round(seconds % 60)} s left`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US');
}

/** "events 1,200 of 5,000 · 24.0% · about 12 s left" */
export function progressText(job: Job): string {
  const parts = [`${job.phase}`];
  if (job.progress && job.progress.total > 0) parts.push(`${formatCount(job.progress.done)} of ${formatCount(job.progress.total)} ${job.progress.unit}`);
  parts.push(`${job.percent.toFixed(1)}%`);
  if (job.status === 'Running' || job.status === 'Scheduled') parts.push(formatEta(job.etaSeconds));
  return parts.join(' · ');
}

/** A partial backup's note, "partial: products; assets none"; "whole app" for the rest. */
export function selectionText(include: Selection | null | undefined): string {
  if (!include) return 'whole app';
  const parts = [include.schemas ? include.schemas.join(', ') : 'every schema'];
  if (include.contents) parts.push(`${formatCount(include.contents.length)} listed content${include.contents.length === 1 ? '' : 's'}`);
  parts.push(`assets ${include.assets}`);
  return `partial: ${parts.join('; ')}`;
}
