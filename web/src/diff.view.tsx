import { useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { DiffItem, DiffPreview, DiffValue } from '@contract/diffs.schemas.js';
import { errorText } from './api.util.js';
import { formatCount } from './format.util.js';
import { ErrorNote } from './page-parts.view.js';

const KIND_LABELS: Record<string, string> = { schemas: 'Schemas', contents: 'Contents', assets: 'Assets', contributors: 'Contributors' };
const SIGN = { added: '+', removed: '−', changed: '~' } as const;

/** A value as the server cut it: its JSON, and a mark when it was cut. Preact escapes the text. */
function Value({ value }: { value: DiffValue | null }) {
  if (value === null) return null;
  return (
    <code class="diff-value">
      {value.json}
      {value.truncated && <span class="hint" title={`${formatCount(value.length)} characters in all`}>… (cut)</span>}
    </code>
  );
}

function Change({ item }: { item: DiffItem }) {
  return (
    <li class={`diff-item diff-${item.change}`} data-kind={item.kind} data-id={item.id} data-change={item.change}>
      <span class="diff-sign" aria-label={item.change}>
        {SIGN[item.change]}
      </span>{' '}
      {KIND_LABELS[item.kind] ?? item.kind} <strong>{item.label}</strong>
      {item.label !== item.id && <code class="hint"> {item.id}</code>}
      {item.labelBefore !== null && <span class="hint"> (was {item.labelBefore})</span>}
      {(item.properties.length > 0 || item.versionsAdded.length > 0 || item.versionsRemoved.length > 0) && (
        <ul>
          {item.properties.map((p) => (
            <li key={p.name} data-property={p.name} data-change={p.change}>
              {SIGN[p.change]} {p.name}:{' '}
              {p.change === 'changed' ? (
                <>
                  <Value value={p.before} /> → <Value value={p.after} />
                </>
              ) : (
                <Value value={p.after ?? p.before} />
              )}
            </li>
          ))}
          {item.versionsAdded.map((v) => (
            <li key={`+${v.version}`} data-version={v.version} data-change="added">
              + file version {v.version}: <Value value={v.value} />
            </li>
          ))}
          {item.versionsRemoved.map((v) => (
            <li key={`-${v.version}`} data-version={v.version} data-change="removed">
              − file version {v.version}: <Value value={v.value} />
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** Where the rest of a diff's changes come from: the backup's diff against the live app. */
export interface DiffMore {
  api: ApiClient;
  app: string;
  backupId: string;
}

interface Props {
  diff: DiffPreview;
  more?: DiffMore;
}

/**
 * What differs between two states of the app (a backup and the app now): per kind the counts, then
 * each change with the properties that differ (values as the server cut them) and the file
 * versions added; "Show more" reads the next page of the backup's diff.
 */
export function DiffView({ diff, more }: Props) {
  const [items, setItems] = useState<DiffItem[]>(diff.items);
  const [next, setNext] = useState<string | null>(diff.next);
  // The server's computation the pages after the first come from, so that they agree with each other.
  const [snapshot, setSnapshot] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [waiting, setWaiting] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loadMore = async () => {
    if (!more || next === null) return;
    setLoading(true);
    setError(null);
    try {
      const ask = (at: string | undefined) => more.api.call('appBackups.diff', { params: { app: more.app, id: more.backupId }, query: { against: 'live', cursor: next, limit: '100', snapshot: at } });
      let page = await ask(snapshot);
      // 202: a large diff goes on on the server; the same request asked again reads it.
      while ('status' in page) {
        const { retryAfterSeconds, snapshot: computing } = page;
        setWaiting(`The server is still computing the diff; asking again in ${retryAfterSeconds} s…`);
        await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000));
        page = await ask(computing ?? snapshot);
      }
      const shown = page;
      setItems((before) => [...before, ...shown.items]);
      setNext(shown.next);
      setSnapshot(shown.snapshot ?? undefined);
    } catch (problem) {
      setError(errorText(problem));
    } finally {
      setWaiting(null);
      setLoading(false);
    }
  };

  return (
    <div class="diff" data-testid="diff">
      <div class="table-wrap">
        <table class="changes-table">
          <caption>What changed in the app since then, by kind</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Added</th>
              <th scope="col">Removed</th>
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(diff.summary).map(([kind, count]) => (
              <tr key={kind} data-kind={kind}>
                <th scope="row">{KIND_LABELS[kind] ?? kind}</th>
                <td class="num" data-label="Added" data-testid={`diff-${kind}-added`}>
                  {formatCount(count.added)}
                </td>
                <td class="num" data-label="Removed" data-testid={`diff-${kind}-removed`}>
                  {formatCount(count.removed)}
                </td>
                <td class="num" data-label="Changed" data-testid={`diff-${kind}-changed`}>
                  {formatCount(count.changed)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {diff.total === 0 ? (
        <p data-testid="diff-empty">No differences.</p>
      ) : (
        <>
          <p class="hint">
            {formatCount(items.length)} of {formatCount(diff.total)} changes shown.
          </p>
          <ul class="diff-items" data-testid="diff-items">
            {items.map((item) => (
              <Change key={`${item.kind}/${item.id}`} item={item} />
            ))}
          </ul>
          {next !== null &&
            (more ? (
              <button type="button" onClick={() => void loadMore()} disabled={loading}>
                {loading ? 'Reading more changes…' : 'Show more changes'}
              </button>
            ) : (
              <p class="hint">More changes than shown.</p>
            ))}
          {waiting && (
            <p class="hint" role="status">
              {waiting}
            </p>
          )}
          {error && <ErrorNote message={error} />}
        </>
      )}
    </div>
  );
}
