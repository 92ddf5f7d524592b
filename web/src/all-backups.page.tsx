import type { ApiClient } from '@contract/client/api-client.js';
import { BackupsTable } from './backups-table.view.js';
import { PageTitle } from './page-parts.view.js';

/** Every backup of every app (admins), also of apps that were deleted since. */
export function AllBackupsPage({ api }: { api: ApiClient }) {
  return (
    <main id="main">
      <PageTitle title="All backups">All backups</PageTitle>
      <p>Every app's backups, newest first, including those of apps deleted since.</p>
      <BackupsTable api={api} showApp admin started={null} />
    </main>
  );
}
