import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import { isEnded } from '@contract/client/job-events.js';
import type { Restore } from '@contract/restores.schemas.js';
import { errorText, followLive } from './api.util.js';
import { Link } from './client.router.js';
import { formatBytes, formatCount, formatEta, formatTime, selectionText } from './format.util.js';
import { ErrorNote, PageTitle, StatusBadge } from './page-parts.view.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { sentUploads } from './restore-form.util.js';

/** One restore, live: phase, progress bar, ETA and the log as it grows; the app when done, the error when not. */
export function RestoreJobPage({ api, id }: { api: ApiClient; id: string }) {
  const [restore, setRestore] = useState<Restore | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  // Bumped by a resume: the page follows the restore again.
  const [runs, setRuns] = useState(0);
  const logEnd = useRef<HTMLLIElement>(null);

  const resume = async () => {
    setError(null);
    try {
      setRestore(await api.call('restores.resume', { params: { id }, body: {} }));
      setRuns((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const cancel = async () => {
    setCancelling(false);
    setError(null);
    try {
      setRestore(await api.call('restores.cancel', { params: { id } }));
    } catch (e) {
      setError(errorText(e));
    }
  };

  useEffect(() => {
    const abort = new AbortController();
    setRestore(null);
    api
      .call('restores.get', { params: { id }, signal: abort.signal })
      .then(async (first) => {
        setRestore(first);
        if (!isEnded(first)) await followLive<Restore>(api, { route: 'restores.get', params: { id } }, setRestore, abort.signal);
      })
      .catch((e: unknown) => !abort.signal.aborted && setError(errorText(e)));
    return () => abort.abort();
  }, [api, id, runs]);

  const logLength = restore?.log.length ?? 0;
  useEffect(() => {
    if (restore && !isEnded(restore)) logEnd.current?.scrollIntoView({ block: 'nearest' });
  }, [logLength]);

  const upload = sentUploads.get(id);
  return (
    <main id="main">
      <PageTitle title="Restore">Restore {restore?.name ? <span class="app-name">{restore.name}</span> : id.slice(0, 8)}</PageTitle>
      <p>
        <Link href="/admin/restores">All restores</Link> · <Link href="/admin/restore">New restore</Link>
      </p>
      <ErrorNote message={error} />
      {restore && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={restore.status} />
            </dd>
            <dt>Source</dt>
            <dd>
              <code>{restore.source}</code>
              {upload && (
                <span class="hint">
                  {' '}
                  (uploaded 100%: {upload.fileName}, {formatBytes(upload.bytes)})
                </span>
              )}
            </dd>
            {restore.partial && (
              <>
                <dt>Archive</dt>
                <dd data-testid="restore-partial">
                  <span class="badge">partial</span> {selectionText(restore.include)}: the new app holds only these
                </dd>
              </>
            )}
            <dt>Phase</dt>
            <dd data-testid="restore-phase">{restore.phase}</dd>
            <dt>Started</dt>
            <dd>{formatTime(restore.started ?? restore.created)}</dd>
            {restore.completed && (
              <>
                <dt>Ended</dt>
                <dd>{formatTime(restore.completed)}</dd>
              </>
            )}
          </dl>
          <div class="job-progress big">
            <label for="restore-progress">Progress</label>
            <progress id="restore-progress" max={100} value={restore.percent}>
              {restore.percent}%
            </progress>
            <span role="status" aria-live="polite">
              {restore.percent.toFixed(1)}%
              {restore.progress.total > 0 && ` · ${formatCount(restore.progress.done)} of ${formatCount(restore.progress.total)} ${restore.progress.unit}`}
              {!isEnded(restore) && ` · ${formatEta(restore.etaSeconds)}`}
            </span>
          </div>
          {restore.status === 'Completed' && restore.name && (
            <p class="success" role="status">
              Restored {formatCount(restore.restoredEvents)} events and {formatCount(restore.restoredAssets)} assets{restore.partial ? ' of a partial backup' : ''} into{' '}
              <Link href={`/admin/apps/${encodeURIComponent(restore.name)}`}>the app {restore.name}</Link>.
            </p>
          )}
          {restore.status === 'Interrupted' && (
            <div class="warning" role="status" data-testid="restore-interrupted">
              <strong>The server stopped during this restore.</strong> It keeps its name and its archive, and continues from where it stopped, writing nothing twice.
              {restore.error && (
                <p>
                  <strong>The last resume was refused:</strong> <span data-testid="restore-error">{restore.error}</span>
                </p>
              )}
              <p>
                <button type="button" onClick={() => void resume()}>
                  Resume restore
                </button>{' '}
                <button type="button" class="danger" onClick={() => setCancelling(true)}>
                  Cancel restore
                </button>
              </p>
            </div>
          )}
          {cancelling && (
            <ConfirmDialog title="Cancel this restore?" confirmLabel="Cancel restore" onCancel={() => setCancelling(false)} onConfirm={() => void cancel()}>
              Everything it wrote is removed: the new app's events, read models and files, the users it created, its archive. The name {restore.name ?? ''} is free again.
            </ConfirmDialog>
          )}
          {restore.status === 'Failed' && (
            <div class="error" role="alert">
              <strong>The restore failed:</strong> <span data-testid="restore-error">{restore.error}</span>
              <p>Nothing of the new app was kept and the name is free again.</p>
            </div>
          )}
          <section aria-labelledby="log-heading">
            <h2 id="log-heading">Log</h2>
            <ol class="log" aria-live="polite" aria-relevant="additions">
              {restore.log.map((line, index) => (
                <li key={index} ref={index === restore.log.length - 1 ? logEnd : undefined}>
                  <time dateTime={line.at}>{formatTime(line.at)}</time> {line.message}
                </li>
              ))}
            </ol>
          </section>
        </>
      )}
    </main>
  );
}
