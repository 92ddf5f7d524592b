import { useEffect, useState } from 'preact/hooks';
import { type ApiClient, ApiError } from '@contract/client/api-client.js';
import type { User as Me } from '@contract/users.schemas.js';
import { apiFor, errorText } from './api.util.js';
import { AllBackupsPage } from './all-backups.page.js';
import { AppBackupsPage } from './app-backups.page.js';
import { Link, useLocation } from './client.router.js';
import { HomePage } from './home.page.js';
import { PageTitle } from './page-parts.view.js';
import { RestoreJobPage } from './restore-job.page.js';
import { RestoreNewPage } from './restore-new.page.js';
import { RestoresPage } from './restores.page.js';
import { storedKey, storeKey } from './session.store.js';
import { SignInPage } from './sign-in.page.js';
import { UsersPage } from './users.page.js';
import { RepositoriesPage } from './repositories.page.js';
import { EncryptionPage } from './recipients.view.js';

type Session = { state: 'checking' } | { state: 'signed-out'; reason: string | null } | { state: 'signed-in'; api: ApiClient; me: Me };

/** The shell: the session (a key in session storage, checked with /api/users/me), the navigation and the routes. */
export function AdminApp() {
  const [session, setSession] = useState<Session>(() => (storedKey() ? { state: 'checking' } : { state: 'signed-out', reason: null }));
  const { path, query } = useLocation();

  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    const api = apiFor(key);
    api.call('users.me', {}).then(
      (me) => setSession({ state: 'signed-in', api, me }),
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 401) storeKey(null);
        setSession({ state: 'signed-out', reason: errorText(e) });
      },
    );
  }, []);

  if (session.state === 'checking') return <p class="loading">Signing in…</p>;
  if (session.state === 'signed-out') {
    return (
      <SignInPage
        reason={session.reason}
        onSignedIn={(api, me) => {
          storeKey(api.token ?? null);
          setSession({ state: 'signed-in', api, me });
        }}
      />
    );
  }

  const { api, me } = session;
  const signOut = () => {
    storeKey(null);
    setSession({ state: 'signed-out', reason: null });
  };
  const nav: [string, string][] = [['/admin', 'Apps']];
  if (me.admin) nav.push(['/admin/backups', 'All backups'], ['/admin/restores', 'Restores'], ['/admin/restore', 'New restore'], ['/admin/repositories', 'Repositories'], ['/admin/encryption', 'Encryption'], ['/admin/users', 'Users']);
  const current = (href: string) => (href === '/admin' ? path === '/admin' : path === href || path.startsWith(`${href}/`));

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to the content
      </a>
      <header class="top">
        <span class="brand">AppVault</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who" aria-label="Signed in user">
          Signed in as <strong data-testid="signed-in-as" title={me.displayName || undefined}>{me.email}</strong>
          {me.admin && <span class="badge">administrator</span>}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {route(path, query, api, me)}
    </>
  );
}

function route(path: string, query: URLSearchParams, api: ApiClient, me: Me) {
  if (path === '/admin' || path === '/') return <HomePage api={api} me={me} />;
  const app = /^\/admin\/apps\/([^/]+)$/.exec(path);
  if (app) return <AppBackupsPage key={app[1]} api={api} me={me} name={decodeURIComponent(app[1]!)} />;
  const restore = /^\/admin\/restores\/([^/]+)$/.exec(path);
  if (me.admin) {
    if (path === '/admin/backups') return <AllBackupsPage api={api} />;
    if (path === '/admin/restores') return <RestoresPage api={api} />;
    if (path === '/admin/restore') return <RestoreNewPage api={api} backupId={query.get('backup')} />;
    if (restore) return <RestoreJobPage key={restore[1]} api={api} id={decodeURIComponent(restore[1]!)} />;
    if (path === '/admin/users') return <UsersPage api={api} />;
    if (path === '/admin/repositories') return <RepositoriesPage api={api} />;
    if (path === '/admin/encryption') return <EncryptionPage api={api} />;
  } else if (['/admin/backups', '/admin/restores', '/admin/restore', '/admin/users', '/admin/repositories', '/admin/encryption'].includes(path) || restore) {
    return (
      <main id="main">
        <PageTitle title="Administrators only">Administrators only</PageTitle>
        <p>Restores, every app's backups, the repositories, the installation's recipients and the users are for administrators. <Link href="/admin">Back to your apps</Link></p>
      </main>
    );
  }
  return (
    <main id="main">
      <PageTitle title="Not found">Nothing here</PageTitle>
      <p>
        There is no page at <code>{path}</code>. <Link href="/admin">Back to the apps</Link>
      </p>
    </main>
  );
}
