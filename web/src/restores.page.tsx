import type { ApiClient } from '@contract/client/api-client.js';
import { useRead } from './api.util.js';
import { Link } from './client.router.js';
import { formatCount, formatTime, selectionText } from './format.util.js';
import { ErrorNote, PageTitle, StatusBadge, TableHead } from './page-parts.view.js';

/** Restore history, newest first, with each job's outcome. */
export function RestoresPage({ api }: { api: ApiClient }) {
  const [page, error] = useRead((signal) => api.call('restores.list', { query: { top: 1000 }, signal }), [api]);
  return (
    <main id="main">
      <PageTitle title="Restores">Restores</PageTitle>
      <p>
        <Link href="/admin/restore" class="button">
          New restore
        </Link>
      </p>
      <ErrorNote message={error} />
      {page && page.items.length === 0 && <p>No restores yet.</p>}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption>{page.total} restores, newest first</caption>
            <TableHead columns={['Started', 'Name', 'Source', 'Status', 'Events', 'Outcome']} />
            <tbody>
              {page.items.map((restore) => (
                <tr key={restore.id} data-status={restore.status}>
                  <td data-label="Started">
                    <Link href={`/admin/restores/${encodeURIComponent(restore.id)}`}>{formatTime(restore.created)}</Link>
                  </td>
                  <td data-label="Name">
                    {restore.name ?? '–'}
                    {restore.partial && (
                      <>
                        {' '}
                        <span class="badge" title={selectionText(restore.include)}>
                          partial
                        </span>
                      </>
                    )}
                  </td>
                  <td data-label="Source">
                    <code>{restore.source}</code>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={restore.status} />
                  </td>
                  <td data-label="Events" class="num">
                    {formatCount(restore.restoredEvents)} of {formatCount(restore.eventCount)}
                  </td>
                  <td data-label="Outcome">
                    {restore.status === 'Completed' && restore.name ? (
                      <Link href={`/admin/apps/${encodeURIComponent(restore.name)}`}>open {restore.name}</Link>
                    ) : restore.status === 'Failed' ? (
                      <span class="error-text">{restore.error}</span>
                    ) : restore.status === 'Interrupted' ? (
                      <Link href={`/admin/restores/${encodeURIComponent(restore.id)}`}>interrupted at {restore.percent.toFixed(1)}%: resume or cancel</Link>
                    ) : (
                      `${restore.phase}, ${restore.percent.toFixed(1)}%`
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
