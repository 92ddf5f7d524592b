import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { PageOf } from '@contract/common.schemas.js';
import type { User } from '@contract/users.schemas.js';
import { errorText } from './api.util.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';

/** The installation's users (admins). */
export function UsersPage({ api }: { api: ApiClient }) {
  const [users, setUsers] = useState<PageOf<User> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    api.call('users.list', { query: { top: 1000 }, signal: abort.signal }).then(setUsers, (e: unknown) => !abort.signal.aborted && setError(errorText(e)));
    return () => abort.abort();
  }, [api]);
  return (
    <main id="main">
      <PageTitle title="Users">Users</PageTitle>
      <p>Users created by a restore have no API key until an administrator issues one (POST /api/users/{'{id}'}/api-key).</p>
      <ErrorNote message={error} />
      {users && (
        <div class="table-wrap">
          <table>
            <caption>{users.total} users, by email</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Administrator</th>
              </tr>
            </thead>
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
