import type { ApiClient } from '@contract/client/api-client.js';
import type { User as Me } from '@contract/users.schemas.js';
import { useRead } from './api.util.js';
import { Link } from './client.router.js';
import { formatTime } from './format.util.js';
import { canBackUp, roleOf } from './roles.util.js';
import { ErrorNote, PageTitle, TableHead } from './page-parts.view.js';

/** The apps the key reaches (an admin: all of them), with the caller's role on each. */
export function HomePage({ api, me }: { api: ApiClient; me: Me }) {
  const [page, error] = useRead((signal) => api.call('apps.list', { query: { top: 1000 }, signal }), [api]);
  const apps = page?.items ?? null;
  return (
    <main id="main">
      <PageTitle title="Apps">Apps</PageTitle>
      <p>{me.admin ? 'As an administrator you see every app, every backup, the restores and the users.' : 'The apps you contribute to. Owners and Developers can back them up.'}</p>
      <ErrorNote message={error} />
      {apps === null && !error && <p>Loading apps…</p>}
      {apps !== null && apps.length === 0 && <p>{me.admin ? 'There are no apps yet.' : 'You contribute to no apps yet.'}</p>}
      {apps !== null && apps.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>{apps.length} app{apps.length === 1 ? '' : 's'}</caption>
            <TableHead columns={['Name', 'Label', 'Your role', 'Created', 'Backups']} />
            <tbody>
              {apps.map((app) => (
                <tr key={app.id}>
                  <td data-label="Name">
                    <Link href={`/admin/apps/${encodeURIComponent(app.name)}`}>{app.name}</Link>
                  </td>
                  <td data-label="Label">{app.label}</td>
                  <td data-label="Your role">{roleOf(app, me) ?? (me.admin ? 'administrator' : '–')}</td>
                  <td data-label="Created">{formatTime(app.created)}</td>
                  <td data-label="Backups">{canBackUp(app, me) ? 'yes' : 'not with your role'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
