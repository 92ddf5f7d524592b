import { useEffect, useState } from 'preact/hooks';
import { type ApiClient, errorText } from './api-client.js';
import type { App, Backup, Me } from './api.types.js';
import { BackupsTable } from './backups-table.view.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';
import { canBackUp, roleOf } from './roles.util.js';

/** One app: who you are on it, its backups and a form to start one (Owner, Developer, admin). */
export function AppBackupsPage({ api, me, name }: { api: ApiClient; me: Me; name: string }) {
  const [app, setApp] = useState<App | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState('');
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const [started, setStarted] = useState<Backup | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setApp(null);
    setError(null);
    api.get<App>(`/api/apps/${encodeURIComponent(name)}`, abort.signal).then(setApp, (e: unknown) => !abort.signal.aborted && setError(errorText(e)));
    return () => abort.abort();
  }, [api, name]);

  const start = async (event: Event) => {
    event.preventDefault();
    setStarting(true);
    setStartError(null);
    try {
      const backup = await api.post<Backup>(`/api/apps/${encodeURIComponent(name)}/backups`, label.trim() ? { label: label.trim() } : {});
      setStarted(backup);
      setLabel('');
    } catch (e) {
      setStartError(errorText(e));
    } finally {
      setStarting(false);
    }
  };

  const role = app ? roleOf(app, me) : null;
  const allowed = app ? canBackUp(app, me) : false;
  return (
    <main id="main">
      <PageTitle title={name}>
        App <span class="app-name">{name}</span>
      </PageTitle>
      <ErrorNote message={error} />
      {app && (
        <>
          <p>
            {app.label && app.label !== app.name ? `${app.label}. ` : ''}
            {app.description ? `${app.description} ` : ''}
            Your role: <strong>{role ?? (me.admin ? 'administrator' : 'none')}</strong>
            {me.admin && role ? ' (and administrator)' : ''}. Contributors: {app.contributors.map((c) => `${c.email} (${c.role})`).join(', ')}.
          </p>
          {!allowed && (
            <p class="notice" role="note">
              Backups of {app.name} need the Owner or Developer role; you are {role ?? 'not a contributor'}.
            </p>
          )}
          {allowed && (
            <>
              <form class="inline-form" onSubmit={start} aria-labelledby="start-heading">
                <h2 id="start-heading">Start a backup</h2>
                <label for="backup-label">Label (optional)</label>
                <input id="backup-label" maxLength={200} value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="before-upgrade" />
                <button type="submit" disabled={starting}>
                  {starting ? 'Starting…' : 'Start backup'}
                </button>
                <ErrorNote message={startError} />
              </form>
              <BackupsTable api={api} base={`/api/apps/${encodeURIComponent(app.name)}/backups`} showApp={false} admin={me.admin} started={started} />
            </>
          )}
        </>
      )}
    </main>
  );
}
