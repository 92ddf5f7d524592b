import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Backup } from '@contract/backups.schemas.js';
import { type ApiClient, isDryRun } from '@contract/client/api-client.js';
import { isEnded } from '@contract/client/job-events.js';
import type { Rollback, RollbackPreflight, RollbackTarget } from '@contract/rollbacks.schemas.js';
import { errorText, followLive } from './api.util.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { formatCount, formatTime, progressText } from './format.util.js';
import { ErrorNote, StatusBadge, TableHead } from './page-parts.view.js';
import { ChangesReport, countsText, RollbackPreview } from './rollback-report.view.js';

export const backupName = (backup: Backup) => backup.label || `of ${formatTime(backup.created)}`;

interface Props {
  api: ApiClient;
  app: string;
  /** The app's backups as the table has them, to name targets and safety backups. */
  backups: Backup[];
  /** A backup whose row asked to roll back to it: its dry run runs, then its confirmation shows. */
  target: Backup | null;
  onTargetTaken: () => void;
  /** A rollback took its safety backup or ended: the app's backups and schemas changed. */
  onChanged: () => void;
}

/**
 * Rollbacks in place (Owners and admins): the dry run's report and a confirmation first, then the
 * job live (phase, progress, log, outcome with its safety backup), and the app's rollbacks so far.
 */
export function RollbacksSection({ api, app, backups, target, onTargetTaken, onChanged }: Props) {
  const [items, setItems] = useState<Rollback[] | null>(null);
  const [total, setTotal] = useState(0);
  const [listError, setListError] = useState<string | null>(null);
  const [checking, setChecking] = useState<Backup | null>(null);
  const [preview, setPreview] = useState<{ backup: Backup; report: RollbackPreflight } | null>(null);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [shownId, setShownId] = useState<string | null>(null);
  const messages = useRef<HTMLDivElement>(null);
  const panelHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    api.call('rollbacks.list', { params: { app }, query: { top: 100 }, signal: abort.signal }).then(
      (page) => {
        setItems(page.items);
        setTotal(page.total);
      },
      (e: unknown) => !abort.signal.aborted && setListError(errorText(e)),
    );
    return () => abort.abort();
  }, [api, app]);

  // The dry run: every check a rollback makes and what it would change, nothing written.
  useEffect(() => {
    if (!target) return;
    let current = true;
    setError(null);
    setPreview(null);
    setChecking(target);
    api
      .call('rollbacks.start', { params: { app }, body: { backupId: target.id, dryRun: true } })
      .then(
        (report) => {
          if (!isDryRun(report)) throw new Error('The server started a rollback instead of a dry run');
          if (current) setPreview({ backup: target, report });
        },
        (e: unknown) => {
          if (!current) return;
          setError(errorText(e));
          messages.current?.scrollIntoView({ block: 'nearest' });
        },
      )
      .finally(() => {
        if (!current) return;
        setChecking(null);
        onTargetTaken();
      });
    return () => {
      current = false;
    };
  }, [target?.id]);

  const update = (job: Rollback) => setItems((list) => (list ?? []).map((r) => (r.id === job.id ? job : r)));

  const start = async () => {
    if (!preview) return;
    const { backup } = preview;
    setPreview(null);
    setStarting(true);
    setError(null);
    try {
      const job = await api.call('rollbacks.start', { params: { app }, body: { backupId: backup.id } });
      if (isDryRun(job)) throw new Error('The server answered with a dry run; no rollback was started');
      setItems((list) => [job, ...(list ?? []).filter((r) => r.id !== job.id)]);
      setTotal((t) => t + 1);
      setShownId(job.id);
    } catch (e) {
      setError(errorText(e));
      messages.current?.scrollIntoView({ block: 'nearest' });
    } finally {
      setStarting(false);
    }
  };

  const shown = items?.find((r) => r.id === shownId) ?? null;
  useEffect(() => {
    if (!shownId) return;
    panelHeading.current?.focus({ preventScroll: true });
    panelHeading.current?.scrollIntoView({ block: 'nearest' });
  }, [shownId]);
  // The safety backup appears and the app changes as the shown rollback goes on: the page reads them again.
  useEffect(() => {
    if (shown?.safetyBackupId) onChanged();
  }, [shown?.safetyBackupId, shown?.status]);

  const byId = new Map(backups.map((b) => [b.id, b]));
  const targetText = (t: RollbackTarget) => {
    if (t.backupId) {
      const backup = byId.get(t.backupId);
      return backup ? `backup ${backupName(backup)}` : `backup ${t.backupId.slice(0, 8)}…`;
    }
    if (t.until) return `the state as of ${formatTime(t.until)}`;
    return `event ${formatCount(t.untilEvent ?? t.event ?? null)}`;
  };
  const safetyLink = (id: string, text: string) => (byId.has(id) ? <a href={`#backup-${id}`}>{text}</a> : <code title={id}>{id.slice(0, 8)}…</code>);

  return (
    <section aria-labelledby="rollbacks-heading">
      <h2 id="rollbacks-heading">Rollbacks</h2>
      <p class="hint">
        A rollback brings {app} back, in place, to one of its whole-app backups: same name, id and contributors, a new entry in its history. Use <em>Roll back…</em> on a completed backup; you see
        what it would change before anything is written.
      </p>
      <div ref={messages}>
        <ErrorNote message={error} />
        <p class="notice" role="status">
          {checking ? `Checking what a rollback to backup ${backupName(checking)} would change…` : starting ? 'Starting the rollback…' : ''}
        </p>
      </div>
      {shown && (
        <div class="rollback-job" role="region" aria-labelledby="rollback-job-heading" data-rollback-id={shown.id} data-status={shown.status}>
          <h3 id="rollback-job-heading" ref={panelHeading} tabIndex={-1}>
            Rollback to {targetText(shown.target)}
          </h3>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={shown.status} />
            </dd>
            <dt>Started</dt>
            <dd>{formatTime(shown.started ?? shown.created)}</dd>
            {shown.completed && (
              <>
                <dt>Ended</dt>
                <dd>{formatTime(shown.completed)}</dd>
              </>
            )}
          </dl>
          <div class="job-progress big">
            <label for="rollback-progress">Rollback progress</label>
            <progress id="rollback-progress" max={100} value={shown.percent}>
              {shown.percent}%
            </progress>
            <span role="status" aria-live="polite" data-testid="rollback-progress-text">
              {progressText(shown)}
            </span>
          </div>
          {shown.status === 'Completed' && (
            <p class="success" role="status" data-testid="rollback-outcome">
              Rolled back {app} to {targetText(shown.target)}
              {shown.target.event !== undefined ? ` (event ${formatCount(shown.target.event)})` : ''}: {formatCount(shown.appendedEvents)} events appended.
              {shown.safetyBackupId && <> The app as it was just before is kept in {safetyLink(shown.safetyBackupId, 'the safety backup')}.</>}
            </p>
          )}
          {shown.status === 'Failed' && (
            <div class="error" role="alert">
              <strong>The rollback failed:</strong> <span data-testid="rollback-error">{shown.error}</span>
              {shown.safetyBackupId && <p>Its safety backup: {safetyLink(shown.safetyBackupId, 'the safety backup')}.</p>}
            </div>
          )}
          {shown.changes && shown.counts && (
            <>
              <p>In all: {countsText(shown.counts)}.</p>
              <ChangesReport changes={shown.changes} />
            </>
          )}
          <h4 id="rollback-log-heading">Log</h4>
          <ol class="log" aria-labelledby="rollback-log-heading" aria-live="polite" aria-relevant="additions">
            {shown.log.map((line, index) => (
              <li key={index}>
                <time dateTime={line.at}>{formatTime(line.at)}</time> {line.message}
              </li>
            ))}
          </ol>
          <button type="button" onClick={() => setShownId(null)}>
            Close
          </button>
        </div>
      )}
      <ErrorNote message={listError} />
      {items !== null && items.length === 0 && <p>No rollbacks yet.</p>}
      {items !== null && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>
              {total} rollback{total === 1 ? '' : 's'}, newest first
            </caption>
            <TableHead columns={['Started', 'Back to', 'Status', 'Changes', 'Outcome', 'Details']} />
            <tbody>
              {items.map((rollback) => (
                <RollbackRow
                  key={rollback.id}
                  api={api}
                  app={app}
                  rollback={rollback}
                  target={targetText(rollback.target)}
                  safety={rollback.safetyBackupId ? safetyLink(rollback.safetyBackupId, 'safety backup') : null}
                  onChange={update}
                  onShow={() => setShownId(rollback.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {preview && (
        <ConfirmDialog title={`Roll back ${app} to backup ${backupName(preview.backup)}?`} confirmLabel="Roll back" onCancel={() => setPreview(null)} onConfirm={() => void start()}>
          <RollbackPreview report={preview.report} target={`backup ${backupName(preview.backup)} (${formatTime(preview.backup.created)})`} more={{ api, app, backupId: preview.backup.id }} />
        </ConfirmDialog>
      )}
    </section>
  );
}

interface RowProps {
  api: ApiClient;
  app: string;
  rollback: Rollback;
  target: string;
  safety: ComponentChildren;
  onChange: (rollback: Rollback) => void;
  onShow: () => void;
}

function RollbackRow({ api, app, rollback, target, safety, onChange, onShow }: RowProps) {
  const [streamError, setStreamError] = useState<string | null>(null);
  const running = !isEnded(rollback);
  useEffect(() => {
    if (!running) return;
    const abort = new AbortController();
    followLive<Rollback>(api, { route: 'rollbacks.get', params: { app, id: rollback.id } }, onChange, abort.signal).catch((e: unknown) => setStreamError(errorText(e)));
    return () => abort.abort();
    // Followed once per running rollback; the stream reports every change.
  }, [rollback.id, running]);
  const started = formatTime(rollback.started ?? rollback.created);
  return (
    <tr data-rollback-id={rollback.id} data-status={rollback.status}>
      <td data-label="Started">{started}</td>
      <td data-label="Back to">
        {target}
        {rollback.target.event !== undefined && <span class="muted"> (event {formatCount(rollback.target.event)})</span>}
      </td>
      <td data-label="Status">
        <StatusBadge status={rollback.status} />
        {running && (
          <div class="job-progress">
            <progress max={100} value={rollback.percent} aria-label={`Progress of the rollback to ${target}`}>
              {rollback.percent}%
            </progress>
            <span>{progressText(rollback)}</span>
          </div>
        )}
        {streamError && <p class="error">{streamError}</p>}
      </td>
      <td data-label="Changes">{rollback.counts ? countsText(rollback.counts) : <span class="muted">not planned yet</span>}</td>
      <td data-label="Outcome">
        {rollback.status === 'Completed' ? (
          <>
            {formatCount(rollback.appendedEvents)} events appended{safety && <>; {safety}</>}
          </>
        ) : rollback.status === 'Failed' ? (
          <span class="error-text">{rollback.error}</span>
        ) : (
          <>
            {rollback.phase}
            {safety && <>; {safety}</>}
          </>
        )}
      </td>
      <td data-label="Details">
        <button type="button" onClick={onShow} aria-label={`Show the rollback of ${started} to ${target}`}>
          Show
        </button>
      </td>
    </tr>
  );
}
