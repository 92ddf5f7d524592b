import type { ApiClient } from '@contract/client/api-client.js';
import { useRead } from './api.util.js';
import { ErrorNote, PageTitle, TableHead } from './page-parts.view.js';

/** The installation's users (admins). */
export function UsersPage({ api }: { api: ApiClient }) {
  const [users, error] = useRead((signal) => api.call('users.list', { query: { top: 1000 }, signal }), [api]);
  return (
    <main id="main">
      <PageTitle title="Users">Users</PageTitle>
      <p>Users created by a restore have no API key until an administrator issues one (POST /api/users/{'{id}'}/api-key).</p>
      <ErrorNote message={error} />
      {users && (
        <div class="table-wrap">
          <table>
            <caption>{users.total} users, by email</caption>
            <TableHead columns={['Email', 'Name', 'Administrator']} />
            <tbody>
              {users.items.map((user) => (
                <tr key={user.id}>
                  <td data-label="Email">{user.email}</td>
                  <td data-label="Name">{user.displayName}</td>
                  <td data-label="Administrator">{user.admin ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
