import { DiffView } from './diff.view.js';
import type { RestorePreflight } from '@contract/restores.schemas.js';
import { formatBytes, formatCount, formatTime, selectionText } from './format.util.js';

/** The report of a dry run: what a restore would do, and whether (and why not) it would pass. */
export function PreflightReport({ report }: { report: RestorePreflight }) {
  const list = (emails: string[]) => (emails.length === 0 ? 'none' : emails.join(', '));
  return (
    <section class="preflight" role="region" aria-label="Check report">
      <h2>Check report (nothing was written)</h2>
      {report.valid ? (
        <p class="success" role="status">
          The archive checks out and the name is free: a restore would succeed.
        </p>
      ) : report.error ? (
        <p class="error" role="alert">
          A restore would fail: <span data-testid="preflight-error">{report.error}</span>
        </p>
      ) : (
        <p class="error" role="alert">
          The archive checks out, but {report.name ? (report.name.reason ?? `the name ${report.name.value} cannot be used`) : 'give a name to check it too'}.
        </p>
      )}
      <dl class="facts">
        <dt>Source</dt>
        <dd>
          <code>{report.source}</code>
          {report.sizeBytes !== null && `, ${formatBytes(report.sizeBytes)}`}
        </dd>
        {report.app && (
          <>
            <dt>App in the archive</dt>
            <dd>
              {report.app.name} <code>{report.app.id}</code>
            </dd>
          </>
        )}
        {report.archive && (
          <>
            <dt>Archive</dt>
            <dd>
              made {formatTime(report.archive.created)}, format version {report.archive.formatVersion}; events from {formatTime(report.archive.firstEventAt)} to{' '}
              {formatTime(report.archive.lastEventAt)}
            </dd>
          </>
        )}
        {report.partial && (
          <>
            <dt>Partial backup</dt>
            <dd data-testid="preflight-partial">{selectionText(report.include)}: the new app would hold only these</dd>
          </>
        )}
        {report.events && (
          <>
            <dt>Events</dt>
            <dd data-testid="preflight-events">
              {formatCount(report.events.toRestore)} to restore of {formatCount(report.events.inArchive)} in the archive
            </dd>
          </>
        )}
        {report.files !== null && (
          <>
            <dt>Files checked</dt>
            <dd>{formatCount(report.files)}</dd>
          </>
        )}
        {report.users && (
          <>
            <dt>Users</dt>
            <dd>
              mapped by email: {list(report.users.mapped)}; to be created (without keys): {list(report.users.created)}
            </dd>
          </>
        )}
        {report.name && (
          <>
            <dt>Name</dt>
            <dd>
              {report.name.value}: {report.name.available ? 'free' : (report.name.reason ?? 'taken')}
            </dd>
          </>
        )}
        {report.missing.length > 0 && (
          <>
            <dt>Missing files</dt>
            <dd>{report.missing.map((m) => `${m.name} (${m.reason})`).join('; ')}</dd>
          </>
        )}
        {report.warnings.length > 0 && (
          <>
            <dt>Warnings</dt>
            <dd>{report.warnings.join('; ')}</dd>
          </>
        )}
      </dl>
      {report.diff && report.app && (
        <>
          <h4>Against the live app {report.app.name}</h4>
          <p class="hint">What differs from the archive to the app it was taken from, as it is now (the restore makes a new app; the live one is not touched).</p>
          <DiffView diff={report.diff} />
        </>
      )}
    </section>
  );
}
