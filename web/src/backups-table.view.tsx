import { useEffect, useState } from 'preact/hooks';
import { backupRoutes } from '@contract/api-routes.js';
import type { Backup, DeletedBackup } from '@contract/backups.schemas.js';
import type { ApiClient } from '@contract/client/api-client.js';
import { isEnded, type JobRef } from '@contract/client/job-events.js';
import type { NewLink } from '@contract/links.schemas.js';
import { errorText, followLive } from './api.util.js';
import { BackupCopiesDetail, CopiesList } from './backup-copies.view.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { Link } from './client.router.js';
import { formatBytes, formatCount, formatTime, progressText, selectionText } from './format.util.js';
import { encryptionText } from './encryption-fields.view.js';
import { ErrorNote, StatusBadge, TableHead } from './page-parts.view.js';

/** How long a migration link made from the page lives. */
export const LINK_EXPIRIES: { value: string; label: string }[] = [
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
];

const nameOf = (backup: Backup) => backup.label || `of ${formatTime(backup.created)}`;

const columns = (showApp: boolean) => [showApp ? 'App' : null, 'Status', 'Label', 'Holds', 'Trigger', 'Created', 'Events', 'Assets', 'Users', 'Size', 'Copies', 'SHA-256', 'Actions'];

/** What a delete left in append-only repositories, as the notice says it. */
function keptText(deleted: DeletedBackup | undefined): string {
  if (!deleted || deleted.kept.length === 0) return '';
  return `. Kept: ${deleted.kept.map((copy) => `the copy in ${copy.repository} (${copy.key}): ${copy.reason}`).join('; ')}`;
}

interface Props {
  api: ApiClient;
  /** The app whose backups these are; none for an admin's view of every app. */
  app?: string;
  showApp: boolean;
  admin: boolean;
  /** A backup just started elsewhere on the page: put it on top and follow it. */
  started: Backup | null;
  /** Read the list again when this changes (a rollback added its safety backup). */
  generation?: number;
  /** Told the list whenever it changes. */
  onItems?: (items: Backup[]) => void;
  /** Given when the viewer may roll the app back (Owner, admin): the row action of a completed whole-app backup. */
  onRollBack?: (backup: Backup) => void;
}

/** The backups of one app (or all of them), each with its live progress while it runs, and its actions. */
export function BackupsTable({ api, app, showApp, admin, started, generation = 0, onItems, onRollBack }: Props) {
  const routes = backupRoutes(app);
  const [items, setItems] = useState<Backup[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [link, setLink] = useState<{ backup: Backup; link: NewLink; copied: boolean } | null>(null);
  const [deleting, setDeleting] = useState<Backup | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    api.call(routes.list, { params: { app }, query: { top: 1000 }, signal: abort.signal }).then(
      (page) => {
        setItems(page.items);
        setTotal(page.total);
      },
      (e: unknown) => !abort.signal.aborted && setError(errorText(e)),
    );
    return () => abort.abort();
  }, [api, app, generation]);

  useEffect(() => {
    if (items) onItems?.(items);
  }, [items]);

  useEffect(() => {
    if (!started) return;
    setItems((current) => [started, ...(current ?? []).filter((b) => b.id !== started.id)]);
    setTotal((t) => t + 1);
  }, [started]);

  const update = (backup: Backup) => setItems((current) => (current ?? []).map((b) => (b.id === backup.id ? backup : b)));

  const download = async (backup: Backup) => {
    setError(null);
    try {
      // A short-lived link: the browser itself streams the file to disk; the page never holds it.
      const made = await api.call(routes.createLink, { params: { app, id: backup.id }, body: { expiresIn: 300 } });
      const anchor = document.createElement('a');
      anchor.href = made.url;
      anchor.download = '';
      anchor.rel = 'noopener';
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      setNotice(`Downloading backup ${nameOf(backup)}`);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const makeLink = async (backup: Backup, expiresIn: string) => {
    setError(null);
    try {
      const made = await api.call(routes.createLink, { params: { app, id: backup.id }, body: { expiresIn } });
      let copied = false;
      try {
        await navigator.clipboard.writeText(made.url);
        copied = true;
      } catch {
        // No clipboard access (an insecure origin, or refused): the link is shown to copy by hand.
      }
      setLink({ backup, link: made, copied });
    } catch (e) {
      setError(errorText(e));
    }
  };

  const remove = async (backup: Backup) => {
    setDeleting(null);
    setError(null);
    setNotice(null);
    try {
      // 204, or 200 naming the copies append-only repositories kept; a locked copy is a 409 whose words say until when.
      const deleted: DeletedBackup | undefined = await api.call(routes.delete, { params: { app, id: backup.id } });
      setItems((current) => (current ?? []).filter((b) => b.id !== backup.id));
      setTotal((t) => t - 1);
      setNotice(`Deleted backup ${nameOf(backup)}${keptText(deleted)}`);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="backups-heading">
      <h2 id="backups-heading">Backups</h2>
      <ErrorNote message={error} />
      <p class="notice" role="status">
        {notice}
      </p>
      {link && (
        <div class="link-box" role="region" aria-label="Migration link">
          <label>
            Migration link for backup {nameOf(link.backup)} (anyone with it can download the archive until {formatTime(link.link.expires)})
            <input type="text" readOnly value={link.link.url} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <p role="status">{link.copied ? 'Copied to the clipboard.' : 'Select the link and copy it.'}</p>
          <button type="button" onClick={() => setLink(null)}>
            Close
          </button>
        </div>
      )}
      {items === null && !error && <p>Loading backups…</p>}
      {items !== null && items.length === 0 && <p>No backups yet.</p>}
      {items !== null && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>
              {total} backup{total === 1 ? '' : 's'}, newest first
            </caption>
            <TableHead columns={columns(showApp)} />
            <tbody>
              {items.map((backup) => (
                <BackupRow
                  key={backup.id}
                  api={api}
                  app={app}
                  backup={backup}
                  showApp={showApp}
                  admin={admin}
                  onChange={update}
                  onDownload={download}
                  onLink={makeLink}
                  onDelete={setDeleting}
                  onRollBack={onRollBack}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {deleting && (
        <ConfirmDialog title="Delete this backup?" confirmLabel="Delete backup" onCancel={() => setDeleting(null)} onConfirm={() => void remove(deleting)}>
          <p>
            Backup <strong>{nameOf(deleting)}</strong>
            {showApp ? ` of ${deleting.appName}` : ''} ({formatCount(deleting.eventCount)} events, {formatBytes(deleting.sizeBytes)}) and every link to it will be gone. This cannot be undone.
          </p>
          {deleting.copies.length > 0 && (
            <p>
              Its copies in {deleting.copies.map((copy) => copy.repository).join(', ')} are deleted too, except in append-only repositories, which keep theirs. If a copy is locked, nothing is
              deleted.
            </p>
          )}
        </ConfirmDialog>
      )}
    </section>
  );
}

interface RowProps {
  api: ApiClient;
  app: string | undefined;
  backup: Backup;
  showApp: boolean;
  admin: boolean;
  onChange: (backup: Backup) => void;
  onDownload: (backup: Backup) => void;
  onLink: (backup: Backup, expiresIn: string) => void;
  onDelete: (backup: Backup) => void;
  onRollBack: ((backup: Backup) => void) | undefined;
}

function BackupRow({ api, app, backup, showApp, admin, onChange, onDownload, onLink, onDelete, onRollBack }: RowProps) {
  const [expiresIn, setExpiresIn] = useState('24h');
  const [streamError, setStreamError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const running = !isEnded(backup);
  const name = nameOf(backup);

  useEffect(() => {
    if (!running) return;
    const abort = new AbortController();
    const ref: JobRef = app === undefined ? { route: 'backups.get', params: { id: backup.id } } : { route: 'appBackups.get', params: { app, id: backup.id } };
    followLive<Backup>(api, ref, onChange, abort.signal).catch((e: unknown) => setStreamError(errorText(e)));
    return () => abort.abort();
    // Followed once per running backup; the stream reports every change.
  }, [backup.id, running]);

  const completed = backup.status === 'Completed';
  const selectId = `expires-${backup.id}`;
  const detailId = `backup-detail-${backup.id}`;
  return (
    <>
      <tr id={`backup-${backup.id}`} data-backup-id={backup.id} data-status={backup.status} data-trigger={backup.trigger} data-partial={backup.partial ? 'true' : 'false'}>
        {showApp && (
          <td data-label="App">
            <Link href={`/admin/apps/${encodeURIComponent(backup.appName)}`}>{backup.appName}</Link>
          </td>
        )}
        <td data-label="Status">
          <StatusBadge status={backup.status} />
          {running && (
            <div class="job-progress">
              <progress max={100} value={backup.percent} aria-label={`Progress of backup ${name}`}>
                {backup.percent}%
              </progress>
              <span>{progressText(backup)}</span>
            </div>
          )}
          {backup.error && <p class="error">{backup.error}</p>}
          {streamError && <p class="error">{streamError}</p>}
          {backup.warnings.length > 0 && <p class="warning">{backup.warnings.join('; ')}</p>}
        </td>
        <td data-label="Label">{backup.label || <span class="muted">no label</span>}</td>
        <td data-label="Holds">
          {backup.partial ? <span class="partial-note">{selectionText(backup.include)}</span> : <span class="muted">{selectionText(null)}</span>}
          {backup.kind === 'incremental' && backup.base && (
            <span class="incremental-note" data-testid="backup-incremental">
              {' '}
              · incremental: the events since backup <code>{backup.base.slice(0, 8)}</code>
              {backup.chain ? `, ${backup.chain.depth} ${backup.chain.depth === 1 ? 'increment' : 'increments'} after the full backup of ${formatTime(backup.chain.fullCreated)}` : ''}
            </span>
          )}
          {backup.encryption && (
            <span class="encrypted-note" data-testid="backup-encrypted">
              {' '}
              · encrypted {encryptionText(backup.encryption)}
            </span>
          )}
        </td>
        <td data-label="Trigger">
          <span class={`trigger trigger-${backup.trigger}`}>{backup.trigger}</span>
        </td>
        <td data-label="Created">{formatTime(backup.created)}</td>
        <td data-label="Events" class="num">
          {formatCount(backup.eventCount)}
        </td>
        <td data-label="Assets" class="num">
          {formatCount(backup.assetCount)}
        </td>
        <td data-label="Users" class="num">
          {formatCount(backup.userCount)}
        </td>
        <td data-label="Size" class="num">
          {formatBytes(backup.sizeBytes)}
        </td>
        <td data-label="Copies">
          <CopiesList backup={backup} />
        </td>
        <td data-label="SHA-256">
          {backup.sha256 ? (
            <code class="sha" title={backup.sha256} data-sha256={backup.sha256}>
              {backup.sha256.slice(0, 12)}…
            </code>
          ) : (
            '–'
          )}
        </td>
        <td data-label="Actions">
          <div class="row-actions">
            <button type="button" aria-expanded={open} aria-controls={open ? detailId : undefined} onClick={() => setOpen(!open)} aria-label={`Copies of backup ${name}`}>
              {open ? 'Hide copies' : 'Copies…'}
            </button>
            <button type="button" disabled={!completed} onClick={() => onDownload(backup)} aria-label={`Download backup ${name}`}>
              Download
            </button>
            <span class="link-maker">
              <label for={selectId} class="visually-hidden">
                Link to backup {name} expires in
              </label>
              <select id={selectId} value={expiresIn} disabled={!completed} onChange={(e) => setExpiresIn(e.currentTarget.value)}>
                {LINK_EXPIRIES.map((option) => (
                  <option key={option.value} value={option.value}>
                    {option.label}
                  </option>
                ))}
              </select>
              <button type="button" disabled={!completed} onClick={() => onLink(backup, expiresIn)} aria-label={`Copy migration link to backup ${name}`}>
                Copy link
              </button>
            </span>
            {admin && completed && (
              <Link class="button" href={`/admin/restore?backup=${encodeURIComponent(backup.id)}`} aria-label={`Restore backup ${name}`}>
                Restore…
              </Link>
            )}
            {onRollBack && completed && !backup.partial && (
              <button type="button" onClick={() => onRollBack(backup)} aria-label={`Roll back to backup ${name}`} title="Roll back to this backup">
                Roll back…
              </button>
            )}
            <button type="button" class="danger" disabled={running} onClick={() => onDelete(backup)} aria-label={`Delete backup ${name}`}>
              Delete
            </button>
          </div>
        </td>
      </tr>
      {open && (
        <tr id={detailId} class="detail-row">
          <td colSpan={columns(showApp).filter((column) => column !== null).length} data-label="Copies">
            <BackupCopiesDetail api={api} app={app} backup={backup} name={name} onChange={onChange} />
          </td>
        </tr>
      )}
    </>
  );
}
