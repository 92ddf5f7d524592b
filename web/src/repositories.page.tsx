import { useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { BodyOf } from '@contract/client/api-types.js';
import type { Repository, RepositoryCheck } from '@contract/repositories.schemas.js';
import { errorText, useRead } from './api.util.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { ErrorNote, PageTitle, TableHead } from './page-parts.view.js';
import { RepositoryBackupsTable } from './repository-backups.view.js';
import { LockModeOptions } from './repository-choice.view.js';

type CredentialChoice = 'keep' | 'environment' | 'file' | 'stored' | 'default';

/** The form's fields, as text, for both kinds; the API checks them and its 400 says what is wrong. */
interface Draft {
  name: string;
  type: 'filesystem' | 's3';
  path: string;
  appendOnly: boolean;
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  pathStyle: boolean;
  storageClass: string;
  credentials: CredentialChoice;
  accessKeyIdEnv: string;
  secretAccessKeyEnv: string;
  secretsFile: string;
  accessKeyId: string;
  secretAccessKey: string;
  lockMode: '' | 'GOVERNANCE' | 'COMPLIANCE';
  lockDays: string;
}

const EMPTY: Draft = {
  name: '',
  type: 'filesystem',
  path: '',
  appendOnly: false,
  endpoint: '',
  region: '',
  bucket: '',
  prefix: '',
  pathStyle: true,
  storageClass: '',
  credentials: 'environment',
  accessKeyIdEnv: '',
  secretAccessKeyEnv: '',
  secretsFile: '',
  accessKeyId: '',
  secretAccessKey: '',
  lockMode: '',
  lockDays: '',
};

/** An existing repository in the form; credentials are kept unless the admin chooses others (their values are never shown). */
function draftOf(repository: Repository): Draft {
  const s3 = repository.s3;
  return {
    ...EMPTY,
    name: repository.name,
    type: repository.type === 's3' ? 's3' : 'filesystem',
    path: repository.path ?? '',
    appendOnly: repository.appendOnly,
    endpoint: s3?.endpoint ?? '',
    region: s3?.region ?? '',
    bucket: s3?.bucket ?? '',
    prefix: s3?.prefix ?? '',
    pathStyle: s3?.forcePathStyle ?? true,
    storageClass: s3?.storageClass ?? '',
    credentials: 'keep',
    accessKeyIdEnv: s3?.accessKeyIdEnv ?? '',
    secretAccessKeyEnv: s3?.secretAccessKeyEnv ?? '',
    secretsFile: s3?.secretsFile ?? '',
    lockMode: repository.objectLock?.mode ?? '',
    lockDays: repository.objectLock ? String(repository.objectLock.days) : '',
  };
}

function bodyOf(draft: Draft): BodyOf<'repositories.create'> {
  const text = (value: string) => (value.trim() === '' ? undefined : value.trim());
  const objectLock = draft.lockMode ? { mode: draft.lockMode, days: Number(draft.lockDays) } : null;
  if (draft.type === 'filesystem') return { name: draft.name.trim(), type: 'filesystem', path: draft.path.trim(), appendOnly: draft.appendOnly, ...(objectLock ? { objectLock } : {}) };
  const credentials =
    draft.credentials === 'environment'
      ? { accessKeyIdEnv: draft.accessKeyIdEnv.trim(), secretAccessKeyEnv: draft.secretAccessKeyEnv.trim() }
      : draft.credentials === 'file'
        ? { secretsFile: draft.secretsFile.trim() }
        : draft.credentials === 'stored'
          ? { accessKeyId: draft.accessKeyId.trim(), secretAccessKey: draft.secretAccessKey }
          : {};
  return {
    name: draft.name.trim(),
    type: 's3',
    s3: { endpoint: text(draft.endpoint), region: text(draft.region), bucket: draft.bucket.trim(), prefix: text(draft.prefix), forcePathStyle: draft.pathStyle, storageClass: text(draft.storageClass), ...credentials },
    objectLock,
  };
}

const CREDENTIAL_WORDS: Record<string, string> = {
  environment: 'from the server’s environment',
  file: 'from a file on the server',
  stored: 'stored by AppVault',
  default: 'the AWS SDK’s default chain',
};

function protection(repository: Repository): string {
  if (repository.objectLock) return `locked ${repository.objectLock.mode}, ${repository.objectLock.days} days`;
  return repository.appendOnly ? 'append-only' : '';
}

/** Backup repositories (admins): where copies of backups go, whether they work, and what they hold. */
export function RepositoriesPage({ api }: { api: ApiClient }) {
  const [version, setVersion] = useState(0);
  const [repositories, loadError] = useRead((signal) => api.call('repositories.list', { signal }), [api, version]);
  const [editing, setEditing] = useState<Repository | 'new' | null>(null);
  const [selected, setSelected] = useState<{ name: string; view: 'check' | 'backups' } | null>(null);
  const [removing, setRemoving] = useState<Repository | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const remove = async (repository: Repository) => {
    setRemoving(null);
    setError(null);
    try {
      await api.call('repositories.delete', { params: { id: repository.id } });
      setNotice(`Repository ${repository.name} removed; what it holds stays where it is.`);
      if (selected?.name === repository.name) setSelected(null);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <main id="main">
      <PageTitle title="Repositories">Backup repositories</PageTitle>
      <p>
        Folders and S3 buckets that hold copies of backups outside this installation. <code>local</code> is this installation’s own store.
      </p>
      <ErrorNote message={loadError} />
      <p class="notice" role="status">
        {notice}
      </p>
      <ErrorNote message={error} />
      {repositories && (
        <div class="table-wrap">
          <table data-testid="repositories">
            <caption>{repositories.items.length} repositories</caption>
            <TableHead columns={['Name', 'Type', 'Where', 'Credentials', 'Protection', 'Actions']} />
            <tbody>
              {repositories.items.map((repository) => (
                <tr key={repository.id} data-testid={`repository-${repository.name}`}>
                  <td data-label="Name">{repository.name}</td>
                  <td data-label="Type">{repository.type}</td>
                  <td data-label="Where">{repository.location}</td>
                  <td data-label="Credentials">{repository.credentials ? CREDENTIAL_WORDS[repository.credentials] : ''}</td>
                  <td data-label="Protection">{protection(repository)}</td>
                  <td data-label="Actions">
                    <div class="row-buttons">
                      <button type="button" onClick={() => setSelected({ name: repository.name, view: 'check' })}>
                        Check
                      </button>
                      <button type="button" onClick={() => setSelected({ name: repository.name, view: 'backups' })}>
                        Backups
                      </button>
                      {repository.type !== 'local' && (
                        <>
                          <button type="button" onClick={() => setEditing(repository)}>
                            Edit
                          </button>
                          <button type="button" class="danger" onClick={() => setRemoving(repository)}>
                            Remove
                          </button>
                        </>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions-row">
        <button type="button" onClick={() => setEditing('new')}>
          Add a repository
        </button>
      </div>
      {editing && (
        <RepositoryForm
          key={editing === 'new' ? 'new' : editing.id}
          api={api}
          current={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(saved, created) => {
            setEditing(null);
            setNotice(`Repository ${saved.name} ${created ? 'added' : 'changed'}.`);
            setVersion((v) => v + 1);
          }}
        />
      )}
      {selected?.view === 'check' && <CheckView key={`check-${selected.name}`} api={api} name={selected.name} />}
      {selected?.view === 'backups' && <BackupsView key={`backups-${selected.name}`} api={api} name={selected.name} />}
      {removing && (
        <ConfirmDialog title={`Remove the repository ${removing.name}?`} confirmLabel="Remove repository" onCancel={() => setRemoving(null)} onConfirm={() => void remove(removing)}>
          <p>
            AppVault stops using <strong>{removing.location}</strong>. What it holds stays there. A repository a backup policy names cannot be removed.
          </p>
        </ConfirmDialog>
      )}
    </main>
  );
}

function RepositoryForm({ api, current, onCancel, onSaved }: { api: ApiClient; current: Repository | null; onCancel: () => void; onSaved: (saved: Repository, created: boolean) => void }) {
  const [draft, setDraft] = useState<Draft>(current ? draftOf(current) : EMPTY);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof Draft>(field: K, value: Draft[K]) => setDraft((d) => ({ ...d, [field]: value }));
  const input = (field: 'name' | 'path' | 'endpoint' | 'region' | 'bucket' | 'prefix' | 'storageClass' | 'accessKeyIdEnv' | 'secretAccessKeyEnv' | 'secretsFile' | 'accessKeyId' | 'lockDays', label: string, hint?: string) => (
    <div class="field">
      <label for={`repository-${field}`}>{label}</label>
      <input
        id={`repository-${field}`}
        value={draft[field]}
        autocomplete="off"
        spellcheck={false}
        disabled={field === 'name' && current !== null}
        onInput={(e) => set(field, e.currentTarget.value)}
        aria-describedby={hint ? `repository-${field}-hint` : undefined}
      />
      {hint && (
        <span id={`repository-${field}-hint`} class="hint">
          {hint}
        </span>
      )}
    </div>
  );

  const save = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const body = bodyOf(draft);
      const saved = current ? await api.call('repositories.update', { params: { id: current.id }, body }) : await api.call('repositories.create', { body });
      onSaved(saved, current === null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form class="panel-form" onSubmit={save} noValidate aria-labelledby="repository-form-heading">
      <h2 id="repository-form-heading">{current ? `Change ${current.name}` : 'Add a repository'}</h2>
      {input('name', 'Name', 'Lowercase letters, digits and dashes; backups and policies name it, so it cannot change later.')}
      <fieldset disabled={current !== null}>
        <legend>Type</legend>
        {(['filesystem', 's3'] as const).map((type) => (
          <label key={type} class="choice">
            <input type="radio" name="repository-type" value={type} checked={draft.type === type} onChange={() => set('type', type)} />
            {type === 'filesystem' ? 'A folder (a mounted share, a second disk)' : 'An S3-compatible bucket'}
          </label>
        ))}
      </fieldset>
      {draft.type === 'filesystem' ? (
        <>
          {input('path', 'Folder', 'An absolute path on the server to a folder that exists, outside the data folder.')}
          <label class="choice">
            <input type="checkbox" checked={draft.appendOnly} onChange={(e) => set('appendOnly', e.currentTarget.checked)} />
            Append-only: AppVault never deletes there (your own tool prunes)
          </label>
        </>
      ) : (
        <>
          {input('endpoint', 'Endpoint', 'Like https://s3.example.com; leave empty for AWS.')}
          {input('region', 'Region', 'Default us-east-1.')}
          {input('bucket', 'Bucket')}
          {input('prefix', 'Prefix (optional)', 'So one bucket can hold several repositories.')}
          <label class="choice">
            <input type="checkbox" checked={draft.pathStyle} onChange={(e) => set('pathStyle', e.currentTarget.checked)} />
            Path-style URLs (most servers other than AWS need them)
          </label>
          {input('storageClass', 'Storage class (optional)')}
          <div class="field">
            <label for="repository-credentials">Credentials</label>
            <select id="repository-credentials" value={draft.credentials} onChange={(e) => set('credentials', e.currentTarget.value as CredentialChoice)}>
              {current && <option value="keep">Keep the current ones ({current.credentials ? CREDENTIAL_WORDS[current.credentials] : 'none'})</option>}
              <option value="environment">From the server’s environment (recommended)</option>
              <option value="file">From a secrets file on the server (recommended)</option>
              <option value="default">The AWS SDK’s default chain (instance role, AWS_* variables)</option>
              <option value="stored">Stored by AppVault</option>
            </select>
          </div>
          {draft.credentials === 'environment' && (
            <>
              {input('accessKeyIdEnv', 'Variable holding the access key id')}
              {input('secretAccessKeyEnv', 'Variable holding the secret access key')}
            </>
          )}
          {draft.credentials === 'file' && input('secretsFile', 'Secrets file', 'An absolute path on the server to {"accessKeyId": "…", "secretAccessKey": "…"}, mode 0600.')}
          {draft.credentials === 'stored' && (
            <>
              {input('accessKeyId', 'Access key id')}
              <div class="field">
                <label for="repository-secretAccessKey">Secret access key</label>
                <input id="repository-secretAccessKey" type="password" autocomplete="new-password" value={draft.secretAccessKey} onInput={(e) => set('secretAccessKey', e.currentTarget.value)} aria-describedby="repository-secret-hint" />
                <span id="repository-secret-hint" class="hint">
                  Kept in AppVault’s database and never shown again. A secrets file or the environment keeps it out of AppVault’s data.
                </span>
              </div>
            </>
          )}
          <div class="field">
            <label for="repository-lockMode">Object Lock</label>
            <select id="repository-lockMode" value={draft.lockMode} onChange={(e) => set('lockMode', e.currentTarget.value as Draft['lockMode'])}>
              <LockModeOptions />
            </select>
          </div>
          {draft.lockMode && input('lockDays', 'Lock each copy for (days)', 'The bucket must have Object Lock enabled.')}
        </>
      )}
      <div class="actions-row">
        <button type="submit" disabled={saving}>
          {saving ? 'Checking and saving…' : current ? 'Save changes' : 'Add repository'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorNote message={error} />
    </form>
  );
}

function CheckView({ api, name }: { api: ApiClient; name: string }) {
  const [check, error] = useRead<RepositoryCheck>(() => api.call('repositories.check', { params: { id: name } }), [api, name]);
  return (
    <section aria-labelledby="check-heading">
      <h2 id="check-heading">Check of {name}</h2>
      <ErrorNote message={error} />
      {!check && !error && <p>Writing, reading and deleting a test object…</p>}
      {check && (
        <>
          <p data-testid="check-outcome" class={check.ok ? 'notice' : 'error-text'}>
            {check.ok ? `${name} works.` : `${name} does not work: see the step that failed.`}
          </p>
          <ol class="steps" data-testid="check-steps">
            {check.steps.map((step) => (
              <li key={step.step} class={step.ok ? 'step-ok' : 'step-failed'}>
                <strong>{step.ok ? '✓' : '✗'} {step.step}</strong>: {step.message}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

function BackupsView({ api, name }: { api: ApiClient; name: string }) {
  const [listed, error] = useRead(() => api.call('repositories.backups', { params: { id: name } }), [api, name]);
  return (
    <section aria-labelledby="held-heading">
      <h2 id="held-heading">Backups in {name}</h2>
      <ErrorNote message={error} />
      {listed && <RepositoryBackupsTable items={listed.items} truncated={listed.truncated} />}
    </section>
  );
}
