import { useEffect, useRef, useState } from 'preact/hooks';
import type { Backup } from '@contract/backups.schemas.js';
import { type ApiClient, ApiError, isDryRun } from '@contract/client/api-client.js';
import type { ResultOf } from '@contract/client/api-types.js';
import type { RepositoryBackup } from '@contract/repositories.schemas.js';
import type { RestorePreflight } from '@contract/restores.schemas.js';
import { errorText, uploadForm, useRead } from './api.util.js';
import { navigate } from './client.router.js';
import { formatBytes, formatCount, formatTime } from './format.util.js';
import { encryptionText, KeyFields, type KeyChoice, keysOf, NO_KEY } from './encryption-fields.view.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';
import { PreflightReport } from './preflight-report.view.js';
import { RepositoryBackupsTable } from './repository-backups.view.js';
import { useRepositoryList } from './repository-choice.view.js';
import { nameProblem, sentUploads } from './restore-form.util.js';

type Source = 'backup' | 'file' | 'url' | 'repository';
type PointInTime = 'all' | 'event' | 'time';
type Availability = { state: 'idle' | 'checking' | 'available' | 'taken' | 'error'; message: string };

/** A new restore (admins): from a stored backup, an uploaded archive, a URL or a copy in a repository, under a new name. */
export function RestoreNewPage({ api, backupId }: { api: ApiClient; backupId: string | null }) {
  const [source, setSource] = useState<Source>('backup');
  const [backups, setBackups] = useState<Backup[] | null>(null);
  const [chosen, setChosen] = useState(backupId ?? '');
  const [file, setFile] = useState<File | null>(null);
  const [url, setUrl] = useState('');
  const [listed, repositoriesError] = useRepositoryList(api, true);
  // `local` lists this installation's own backups, which "A stored backup" restores; the others hold copies.
  const repositories = listed?.filter((r) => r.type !== 'local') ?? null;
  const [repository, setRepository] = useState('');
  const [copy, setCopy] = useState<RepositoryBackup | null>(null);
  const [name, setName] = useState('');
  const [nameTouched, setNameTouched] = useState(false);
  // Read by the proposal below, which runs after paint. Set on focus, not only on input: a proposal
  // landing between a person's (or a browser driver's) select-all and the typed text would otherwise
  // be kept in front of it ("shop-copyshop-words").
  const touched = useRef(false);
  const [availability, setAvailability] = useState<Availability>({ state: 'idle', message: '' });
  const [point, setPoint] = useState<PointInTime>('all');
  const [untilEvent, setUntilEvent] = useState('');
  const [until, setUntil] = useState('');
  // Held by the form for this request only: never stored by the page.
  const [key, setKey] = useState<KeyChoice>(NO_KEY);
  const [busy, setBusy] = useState(false);
  const [upload, setUpload] = useState<{ loaded: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<RestorePreflight | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    api.call('backups.list', { query: { top: 1000 }, signal: abort.signal }).then(
      (page) => setBackups(page.items.filter((b) => b.status === 'Completed')),
      (e: unknown) => !abort.signal.aborted && setError(errorText(e)),
    );
    return () => abort.abort();
  }, [api]);

  // A restore of a stored backup or a repository's copy is proposed a name next to its app's, until the admin types one.
  const backup = backups?.find((b) => b.id === chosen) ?? null;
  const proposedFrom = source === 'backup' ? backup?.appName : source === 'repository' ? copy?.backup?.appName : undefined;
  useEffect(() => {
    if (proposedFrom && !touched.current) setName(`${proposedFrom}-copy`.slice(0, 40));
  }, [source, backup?.id, copy?.key, nameTouched]);

  // The name rule first, then availability: GET /api/apps/{name} answers 404 for a free name.
  const problem = nameProblem(name);
  useEffect(() => {
    if (problem) {
      setAvailability({ state: 'idle', message: '' });
      return;
    }
    const abort = new AbortController();
    setAvailability({ state: 'checking', message: `Checking whether ${name} is free…` });
    const timer = setTimeout(() => {
      api.call('apps.get', { params: { app: name }, signal: abort.signal }).then(
        () => setAvailability({ state: 'taken', message: `An app named ${name} exists: choose another name` }),
        (e: unknown) => {
          if (abort.signal.aborted) return;
          if (e instanceof ApiError && e.status === 404) setAvailability({ state: 'available', message: `${name} is free` });
          else setAvailability({ state: 'error', message: errorText(e) });
        },
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [api, name, problem]);

  const sourceReady = source === 'backup' ? Boolean(chosen) : source === 'file' ? file !== null : source === 'repository' ? copy !== null : url.trim() !== '';
  const pointProblem =
    point === 'event' && !/^[1-9]\d*$/.test(untilEvent) ? 'Give an event number (1 or more)' : point === 'time' && (!until || Number.isNaN(new Date(until).getTime())) ? 'Give a date and time' : null;
  const ready = sourceReady && !problem && availability.state === 'available' && !pointProblem && !busy;
  // A check (dry run) needs no free name: it reports on the name too, when one is given.
  const checkable = sourceReady && (!name || !problem) && !pointProblem && !busy;

  const run = async (dryRun: boolean) => {
    if (dryRun ? !checkable : !ready) return;
    setBusy(true);
    setError(null);
    setReport(null);
    const pointFields: { untilEvent?: number; until?: string } = point === 'event' ? { untilEvent: Number(untilEvent) } : point === 'time' ? { until: new Date(until).toISOString() } : {};
    const nameField: { name?: string } = name ? { name } : {};
    const keyFields = keysOf(key);
    try {
      let answer: ResultOf<'restores.start'>;
      if (source === 'file' && file) {
        const form = new FormData();
        // Text fields before the file: the server reads the stream in order.
        for (const [field, value] of Object.entries({ ...nameField, ...pointFields, ...keyFields, ...(dryRun ? { dryRun: 'true' } : {}) })) form.append(field, String(value));
        form.append('file', file, file.name);
        setUpload({ loaded: 0, total: file.size });
        answer = await uploadForm(api, 'restores.start', { query: dryRun ? { dryRun: 'true' } : {} }, form, (loaded, total) => setUpload({ loaded, total }));
        if (!isDryRun(answer)) sentUploads.set(answer.id, { fileName: file.name, bytes: file.size });
      } else {
        const body = source === 'backup' ? { backupId: chosen } : source === 'repository' && copy ? { repository, key: copy.key } : { url: url.trim() };
        answer = await api.call('restores.start', { body: { ...body, ...nameField, ...pointFields, ...keyFields, ...(dryRun ? { dryRun: true } : {}) } });
      }
      if (isDryRun(answer)) {
        setReport(answer);
        setBusy(false);
        setUpload(null);
        return;
      }
      navigate(`/admin/restores/${encodeURIComponent(answer.id)}`);
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
      setUpload(null);
    }
  };

  const submit = (event: Event) => {
    event.preventDefault();
    void run(false);
  };

  const uploadPercent = upload && upload.total > 0 ? Math.round((upload.loaded / upload.total) * 100) : 0;
  return (
    <main id="main">
      <PageTitle title="New restore">New restore</PageTitle>
      <p>A restore makes a new app from an archive, with its full history; it never touches an existing app. One restore runs at a time.</p>
      <form class="restore-form" onSubmit={submit} noValidate>
        <fieldset>
          <legend>Restore from</legend>
          {(
            [
              ['backup', 'A stored backup'],
              ['file', 'An archive file (upload)'],
              ['url', 'A URL (such as a migration link)'],
              ['repository', 'From a repository (this installation’s copies or another’s)'],
            ] as const
          ).map(([value, label]) => (
            <label class="choice" key={value}>
              <input type="radio" name="source" value={value} checked={source === value} onChange={() => setSource(value)} /> {label}
            </label>
          ))}
          {source === 'backup' && (
            <div class="field">
              <label for="restore-backup">Backup</label>
              <select id="restore-backup" value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
                <option value="">{backups === null ? 'Loading backups…' : backups.length === 0 ? 'No completed backups' : 'Choose a backup'}</option>
                {(backups ?? []).map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.appName} · {b.label || 'no label'} · {formatTime(b.created)} · {formatCount(b.eventCount)} events{b.encryption ? ` · encrypted ${encryptionText(b.encryption)}` : ''}
                  </option>
                ))}
              </select>
            </div>
          )}
          {source === 'file' && (
            <div class="field">
              <label for="restore-file">Archive (.zip)</label>
              <input id="restore-file" type="file" accept=".zip,.age,application/zip" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
              <span class="hint">An encrypted archive (.zip.age) too: give its key below.</span>
              {file && (
                <span class="hint">
                  {file.name}, {formatBytes(file.size)}
                </span>
              )}
            </div>
          )}
          {source === 'url' && (
            <div class="field">
              <label for="restore-url">Archive URL</label>
              <input id="restore-url" type="url" inputMode="url" placeholder="https://vault.example.com/api/links/…" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
              <span class="hint">The server fetches it; private and loopback hosts need RESTORE_ALLOWED_HOSTS.</span>
            </div>
          )}
          {source === 'repository' && (
            <>
              <div class="field">
                <label for="restore-repository">Repository</label>
                <select
                  id="restore-repository"
                  value={repository}
                  onChange={(e) => {
                    setRepository(e.currentTarget.value);
                    setCopy(null);
                  }}
                >
                  <option value="">{repositories === null ? 'Loading repositories…' : repositories.length === 0 ? 'No repositories besides local' : 'Choose a repository'}</option>
                  {(repositories ?? []).map((r) => (
                    <option key={r.id} value={r.name}>
                      {r.name} · {r.location}
                    </option>
                  ))}
                </select>
                <span class="hint">Copies this installation wrote, and those another installation configured with the same folder or bucket wrote. This installation’s own store is “A stored backup”.</span>
                <ErrorNote message={repositoriesError} />
              </div>
              {repository && <RepositoryCopies key={repository} api={api} repository={repository} chosen={copy?.key ?? null} onChoose={setCopy} />}
            </>
          )}
        </fieldset>

        {(source !== 'backup' || backup?.encryption) && <KeyFields id="restore" value={key} onChange={setKey} />}

        <div class="field">
          <label for="restore-name">New app name</label>
          <input
            id="restore-name"
            value={name}
            maxLength={60}
            autocomplete="off"
            spellcheck={false}
            aria-describedby="restore-name-check"
            aria-invalid={(nameTouched && problem !== null) || availability.state === 'taken'}
            onFocus={() => {
              touched.current = true;
            }}
            onInput={(e) => {
              touched.current = true;
              setNameTouched(true);
              setName(e.currentTarget.value);
            }}
          />
          <span id="restore-name-check" class={`hint name-${problem ? 'invalid' : availability.state}`} role="status">
            {problem ? (nameTouched || name ? problem : '') : availability.message}
          </span>
        </div>

        <fieldset>
          <legend>Point in time (optional)</legend>
          <label class="choice">
            <input type="radio" name="point" value="all" checked={point === 'all'} onChange={() => setPoint('all')} /> Everything in the archive
          </label>
          <label class="choice">
            <input type="radio" name="point" value="event" checked={point === 'event'} onChange={() => setPoint('event')} /> Up to an event number
          </label>
          {point === 'event' && (
            <div class="field">
              <label for="restore-until-event">Last event to restore</label>
              <input id="restore-until-event" type="number" min={1} step={1} value={untilEvent} onInput={(e) => setUntilEvent(e.currentTarget.value)} />
            </div>
          )}
          <label class="choice">
            <input type="radio" name="point" value="time" checked={point === 'time'} onChange={() => setPoint('time')} /> Up to a time
          </label>
          {point === 'time' && (
            <div class="field">
              <label for="restore-until">Restore the app as it was at (your local time)</label>
              <input id="restore-until" type="datetime-local" step={1} value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
            </div>
          )}
          {pointProblem && <span class="hint">{pointProblem}</span>}
        </fieldset>

        {upload && (
          <div class="field">
            <label for="upload-progress">Upload</label>
            <progress id="upload-progress" max={100} value={uploadPercent}>
              {uploadPercent}%
            </progress>
            <span>
              {uploadPercent}% · {formatBytes(upload.loaded)} of {formatBytes(upload.total)}
            </span>
          </div>
        )}
        <ErrorNote message={error} />
        <div class="actions-row">
          <button type="submit" disabled={!ready}>
            {busy ? (upload ? 'Uploading…' : 'Working…') : 'Start restore'}
          </button>
          <button type="button" disabled={!checkable} onClick={() => void run(true)}>
            Check without restoring
          </button>
        </div>
      </form>
      {report && <PreflightReport report={report} />}
    </main>
  );
}

/** The copies a repository holds, to choose one from; one whose manifest cannot be used is greyed with its error. */
function RepositoryCopies({ api, repository, chosen, onChoose }: { api: ApiClient; repository: string; chosen: string | null; onChoose: (copy: RepositoryBackup) => void }) {
  const [listed, error] = useRead((signal) => api.call('repositories.backups', { params: { id: repository }, signal }), [api, repository]);
  return (
    <div class="repository-copies" role="group" aria-label={`Backups in ${repository}`}>
      <ErrorNote message={error} />
      {!listed && !error && <p>Reading what {repository} holds…</p>}
      {listed && <RepositoryBackupsTable items={listed.items} truncated={listed.truncated} choose={{ group: 'restore-copy', key: chosen, onChoose }} />}
    </div>
  );
}
