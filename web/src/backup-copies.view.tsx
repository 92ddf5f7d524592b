import { useState } from 'preact/hooks';
import { backupRoutes } from '@contract/api-routes.js';
import type { Backup, BackupCopy } from '@contract/backups.schemas.js';
import type { ApiClient } from '@contract/client/api-client.js';
import { errorText } from './api.util.js';
import { formatBytes, formatTime } from './format.util.js';
import { ErrorNote, TableHead } from './page-parts.view.js';

/**
 * A copy's state: `failed` could not be written (nothing is there), `damaged` was written but the
 * last verify found it wrong or could not check it, `ok` was written and last found whole.
 */
type CopyState = 'ok' | 'damaged' | 'failed';

export function copyState(copy: BackupCopy): CopyState {
  if (copy.written === null) return 'failed';
  return copy.error === null ? 'ok' : 'damaged';
}

const STATE_WORDS: Record<CopyState, string> = { ok: '✓ whole', damaged: '✗ found wrong', failed: '✗ failed' };

function LockNote({ copy }: { copy: BackupCopy }) {
  if (!copy.lockedUntil) return null;
  return (
    <span class="lock-note">
      locked until <time dateTime={copy.lockedUntil}>{formatTime(copy.lockedUntil)}</time>
    </span>
  );
}

/** The copies column of the backups table: each repository, failed ones marked with their error, locks with their date. */
export function CopiesList({ backup }: { backup: Backup }) {
  if (backup.copies.length === 0) {
    return backup.repositories.length > 0 ? <span class="muted">to {backup.repositories.join(', ')}</span> : <span class="muted">–</span>;
  }
  return (
    <ul class="copies">
      {backup.copies.map((copy) => {
        const state = copyState(copy);
        return (
          <li key={copy.repository} data-repository={copy.repository} data-state={state} class={`copy copy-${state}`}>
            <strong>{copy.repository}</strong> <span class="copy-state">{STATE_WORDS[state]}</span> <LockNote copy={copy} />
            {copy.error && <span class="copy-error">{copy.error}</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** What the last verify from this view found, per copy. */
const CHECK_WORDS: Record<CopyState, string> = { ok: 'found whole', damaged: 'found wrong', failed: 'not checked: it was never written' };

interface DetailProps {
  api: ApiClient;
  /** Through the app (Owners, Developers), or by id (admins). */
  app: string | undefined;
  backup: Backup;
  name: string;
  onChange: (backup: Backup) => void;
}

/** A backup's copies in full, and `verify` (POST …/verify) with what it found for each. */
export function BackupCopiesDetail({ api, app, backup, name, onChange }: DetailProps) {
  const [readData, setReadData] = useState(false);
  const [verifying, setVerifying] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [checked, setChecked] = useState<{ at: Date; readData: boolean } | null>(null);
  const completed = backup.status === 'Completed';

  const verify = async () => {
    setVerifying(true);
    setError(null);
    try {
      const updated = await api.call(backupRoutes(app).verify, { params: { app, id: backup.id }, body: readData ? { readData: true } : {} });
      onChange(updated);
      setChecked({ at: new Date(), readData });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setVerifying(false);
    }
  };

  const count = (state: CopyState) => backup.copies.filter((copy) => copyState(copy) === state).length;
  return (
    <section class="backup-detail" aria-label={`Copies of backup ${name}`}>
      <h3>Copies of backup {name}</h3>
      {backup.copies.length === 0 ? (
        <p class="muted">{completed ? 'This backup records no copies.' : `Copies are made once the backup has run (to ${backup.repositories.join(', ')}).`}</p>
      ) : (
        <div class="table-wrap">
          <table class="copies-table" data-testid="copies">
            <TableHead columns={['Repository', 'Key', 'Size', 'Written', 'Last verified', 'Locked until', 'State', checked ? 'This check' : null]} />
            <tbody>
              {backup.copies.map((copy) => {
                const state = copyState(copy);
                return (
                  <tr key={copy.repository} data-repository={copy.repository} data-state={state}>
                    <td data-label="Repository">{copy.repository}</td>
                    <td data-label="Key">
                      <code>{copy.key}</code>
                    </td>
                    <td data-label="Size" class="num">
                      {copy.written === null ? '–' : formatBytes(copy.sizeBytes)}
                    </td>
                    <td data-label="Written">{copy.written ? formatTime(copy.written) : 'not written'}</td>
                    <td data-label="Last verified">{formatTime(copy.verified)}</td>
                    <td data-label="Locked until">{copy.lockedUntil ? <time dateTime={copy.lockedUntil}>{formatTime(copy.lockedUntil)}</time> : 'not locked'}</td>
                    <td data-label="State" class={state === 'ok' ? undefined : 'error-text'}>
                      {STATE_WORDS[state]}
                      {copy.error && <span class="copy-error">{copy.error}</span>}
                    </td>
                    {checked && (
                      <td data-label="This check" data-testid="copy-check">
                        {CHECK_WORDS[state]}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div class="verify-row">
        <label class="choice">
          <input type="checkbox" checked={readData} onChange={(e) => setReadData(e.currentTarget.checked)} /> Read the data: download each copy whole and hash it
        </label>
        <button type="button" disabled={!completed || verifying} onClick={() => void verify()} aria-label={`Verify the copies of backup ${name}`}>
          {verifying ? 'Verifying…' : 'Verify'}
        </button>
      </div>
      <p class="hint">
        Without reading the data, each store’s own record is checked: the copy is there, its size, the SHA-256 stored with it (S3), its manifest and its lock. A folder keeps no hash, so only
        reading the data finds bytes changed at the same size.
      </p>
      <ErrorNote message={error} />
      {checked && (
        <p role="status" data-testid="verify-outcome" class={count('damaged') > 0 ? 'error-text' : 'notice'}>
          Checked at {formatTime(checked.at.toISOString())}
          {checked.readData ? ', reading the data' : ''}: {count('ok')} found whole, {count('damaged')} found wrong
          {count('failed') > 0 ? `, ${count('failed')} never written` : ''}.
        </p>
      )}
    </section>
  );
}
