import type { RepositoryBackup } from '@contract/repositories.schemas.js';
import { formatBytes, formatCount, formatTime } from './format.util.js';
import { TableHead } from './page-parts.view.js';

interface Props {
  items: RepositoryBackup[];
  truncated: boolean;
  /** In a form: each usable entry gets a radio button; entries whose manifest cannot be used are greyed with their error. */
  choose?: { group: string; key: string | null; onChoose: (item: RepositoryBackup) => void };
}

const writtenBy = (item: RepositoryBackup) => (item.own ? 'this installation' : item.installation ? `another installation (${item.installation})` : 'unknown');

/** What a repository holds (GET /api/repositories/{id}/backups), another installation's copies too. */
export function RepositoryBackupsTable({ items, truncated, choose }: Props) {
  if (items.length === 0) return <p>This repository holds no backups.</p>;
  return (
    <div class="table-wrap">
      <table data-testid="repository-backups">
        <caption>
          {items.length} backups{truncated ? ' (the first ones only)' : ''}, newest first
        </caption>
        <TableHead columns={[choose ? 'Choose' : null, 'App', 'Label', 'Created', 'Events', 'Size', 'Written by', 'Key']} />
        <tbody>
          {items.map((item) => {
            const backup = item.backup;
            return (
              <tr key={item.key} data-key={item.key} data-own={item.own ? 'true' : 'false'} class={backup ? undefined : 'unusable'} aria-disabled={backup ? undefined : true}>
                {choose && (
                  <td data-label="Choose">
                    <input
                      type="radio"
                      name={choose.group}
                      value={item.key}
                      disabled={!backup}
                      checked={choose.key === item.key}
                      onChange={() => choose.onChoose(item)}
                      aria-label={backup ? `Restore ${backup.appName} ${backup.label || 'no label'} (${item.key})` : `${item.key} cannot be restored`}
                    />
                  </td>
                )}
                {backup ? (
                  <>
                    <td data-label="App">
                      {backup.appName}
                      {backup.partial && <span class="muted"> (partial)</span>}
                    </td>
                    <td data-label="Label">{backup.label || <span class="muted">no label</span>}</td>
                    <td data-label="Created">{formatTime(backup.created)}</td>
                    <td data-label="Events" class="num">
                      {formatCount(backup.eventCount)}
                    </td>
                    <td data-label="Size" class="num">
                      {formatBytes(item.sizeBytes)}
                    </td>
                  </>
                ) : (
                  <td colSpan={5} class="error-text" data-label="Problem">
                    {item.error}
                  </td>
                )}
                <td data-label="Written by">{writtenBy(item)}</td>
                <td data-label="Key">
                  <code>{item.key}</code>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
