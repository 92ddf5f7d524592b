import type { ChangeCounts, KindChanges, RollbackChanges, RollbackPreflight } from '@contract/rollbacks.schemas.js';
import { type DiffMore, DiffView } from './diff.view.js';
import { formatCount } from './format.util.js';

/** The server lists at most this many ids per kind and change; its counts cover all of them. */
const LISTED_PER_KIND = 1000;

const KINDS: { key: keyof RollbackChanges; label: string; by: string }[] = [
  { key: 'schemas', label: 'Schemas', by: 'by name' },
  { key: 'contents', label: 'Contents', by: 'by id' },
  { key: 'assets', label: 'Assets', by: 'by id' },
];

const CHANGES: { key: keyof KindChanges; label: string; meaning: string }[] = [
  { key: 'created', label: 'Created', meaning: 'created again (deleted since then)' },
  { key: 'changed', label: 'Changed', meaning: 'changed back' },
  { key: 'deleted', label: 'Deleted', meaning: 'deleted (made since then)' },
];

const countOf = (ids: string[]) => (ids.length >= LISTED_PER_KIND ? `${formatCount(ids.length)}+` : formatCount(ids.length));

export const countsText = (counts: ChangeCounts) => `${formatCount(counts.created)} created, ${formatCount(counts.changed)} changed, ${formatCount(counts.deleted)} deleted`;

export const nothingChanges = (counts: ChangeCounts) => counts.created + counts.changed + counts.deleted === 0;

/** Per kind: how many schemas, contents and assets a rollback creates again, changes back and deletes, and which. */
export function ChangesReport({ changes }: { changes: RollbackChanges }) {
  return (
    <div class="changes">
      <div class="table-wrap">
        <table class="changes-table">
          <caption>What the rollback changes, by kind</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              {CHANGES.map((change) => (
                <th scope="col" key={change.key}>
                  {change.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {KINDS.map((kind) => (
              <tr key={kind.key} data-kind={kind.key}>
                <th scope="row">{kind.label}</th>
                {CHANGES.map((change) => (
                  <td key={change.key} data-label={change.label} class="num" data-testid={`rollback-${kind.key}-${change.key}-count`}>
                    {countOf(changes[kind.key][change.key])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {KINDS.flatMap((kind) =>
        CHANGES.filter((change) => changes[kind.key][change.key].length > 0).map((change) => {
          const ids = changes[kind.key][change.key];
          return (
            <div class="change-list" key={`${kind.key}-${change.key}`}>
              <h4 id={`changes-${kind.key}-${change.key}`}>
                {kind.label} {change.meaning}, {kind.by}
              </h4>
              <ul aria-labelledby={`changes-${kind.key}-${change.key}`} data-testid={`rollback-${kind.key}-${change.key}`}>
                {ids.map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ul>
              {ids.length >= LISTED_PER_KIND && <p class="hint">The first {formatCount(LISTED_PER_KIND)} are listed; the totals count them all.</p>}
            </div>
          );
        }),
      )}
    </div>
  );
}

/**
 * A dry run's report, in the confirmation before a rollback: what it changes, and what changed in
 * the app since the target (its diff against the live app), so a person sees what goes back.
 */
export function RollbackPreview({ report, target, more }: { report: RollbackPreflight; target: string; more?: DiffMore }) {
  return (
    <div class="rollback-preview" role="region" aria-label="Rollback preview">
      <p>
        Brings <strong>{report.app.name}</strong> back to {target}
        {report.target.event !== undefined ? `, its state at event ${formatCount(report.target.event)}` : ''}. Nothing has been written yet.
      </p>
      {nothingChanges(report.counts) ? (
        <p class="success" data-testid="rollback-nothing">
          Nothing would change: the app is as it was then. The rollback would still be recorded in its history ({formatCount(report.events)} event{report.events === 1 ? '' : 's'}).
        </p>
      ) : (
        <>
          <p data-testid="rollback-counts">
            In all: {countsText(report.counts)}; {formatCount(report.events)} events would be appended.
          </p>
          <ChangesReport changes={report.changes} />
        </>
      )}
      <h4>What changed since then</h4>
      <p class="hint">The rollback takes back what changed in schemas, contents and assets; contributors stay as they are.</p>
      <DiffView diff={report.diff} more={more} />
      <p class="hint">
        A safety backup of the app as it is now is taken first, and writes to the app are refused until the rollback ends. Its history is kept: a rollback can itself be rolled back.
      </p>
    </div>
  );
}
