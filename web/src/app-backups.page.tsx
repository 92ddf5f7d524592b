import { useEffect, useState } from 'preact/hooks';
import type { App } from '@contract/apps.schemas.js';
import type { Schema } from '@contract/app-schemas.schemas.js';
import type { Backup } from '@contract/backups.schemas.js';
import type { ApiClient } from '@contract/client/api-client.js';
import type { User as Me } from '@contract/users.schemas.js';
import { errorText } from './api.util.js';
import { BackupPolicySection } from './backup-policy.view.js';
import { includeOf, type SelectionChoice, SelectionFields, WHOLE_APP } from './backup-selection.view.js';
import { BackupsTable } from './backups-table.view.js';
import { fieldErrors } from './field-errors.util.js';
import { EncryptionFields, type EncryptionChoice, encryptionOf, PassphraseOnce, PLAIN, useAppRecipients } from './encryption-fields.view.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';
import { RecipientsSection } from './recipients.view.js';
import { LOCAL_ONLY, namesOf, type RepositoryChoice, RepositoryFields, useRepositoryList } from './repository-choice.view.js';
import { canBackUp, canManageRecipients, canRollBack, roleOf } from './roles.util.js';
import { RollbacksSection } from './rollbacks.view.js';

/**
 * One app: who you are on it, a form to start a backup (whole or partial), its backups, its
 * scheduled backups (Owner, Developer, admin) and its rollbacks (Owner, admin).
 */
export function AppBackupsPage({ api, me, name }: { api: ApiClient; me: Me; name: string }) {
  const [app, setApp] = useState<App | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState('');
  const [selection, setSelection] = useState<SelectionChoice>(WHOLE_APP);
  const [targets, setTargets] = useState<RepositoryChoice>(LOCAL_ONLY);
  const [encryption, setEncryption] = useState<EncryptionChoice>(PLAIN);
  const [incremental, setIncremental] = useState(false);
  const [passphrase, setPassphrase] = useState<string | null>(null);
  // Bumped when the app's recipients change: the forms that offer them read them again.
  const [recipientsVersion, setRecipientsVersion] = useState(0);
  const [policyNames, setPolicyNames] = useState<string[]>([]);
  const [schemas, setSchemas] = useState<Schema[] | null>(null);
  const [schemasError, setSchemasError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const [started, setStarted] = useState<Backup | null>(null);
  const [backups, setBackups] = useState<Backup[]>([]);
  // Bumped when a rollback changed the app: its backups and schemas are read again.
  const [generation, setGeneration] = useState(0);
  const [rollBackTo, setRollBackTo] = useState<Backup | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setApp(null);
    setError(null);
    api.call('apps.get', { params: { app: name }, signal: abort.signal }).then(setApp, (e: unknown) => !abort.signal.aborted && setError(errorText(e)));
    return () => abort.abort();
  }, [api, name]);

  const allowed = app ? canBackUp(app, me) : false;
  const mayRollBack = app ? canRollBack(app, me) : false;
  const [repositories, repositoriesError] = useRepositoryList(api, me.admin);
  const [recipients, recipientsError] = useAppRecipients(api, name, recipientsVersion);
  // Without the list (admins only), the names this app's backups and schedule use are what the viewer knows.
  const known = [...new Set([...backups.flatMap((b) => [...b.repositories, ...b.copies.map((copy) => copy.repository)]), ...policyNames])].sort();

  useEffect(() => {
    if (!allowed) return;
    const abort = new AbortController();
    setSchemasError(null);
    api.call('schemas.list', { params: { app: name }, query: { top: 1000 }, signal: abort.signal }).then(
      (page) => setSchemas(page.items),
      (e: unknown) => !abort.signal.aborted && setSchemasError(errorText(e)),
    );
    return () => abort.abort();
  }, [api, name, allowed, generation]);

  const start = async (event: Event) => {
    event.preventDefault();
    setStarting(true);
    setStartError(null);
    const include = includeOf(selection);
    try {
      const encrypted = encryptionOf(encryption);
      const body = {
        ...(label.trim() ? { label: label.trim() } : {}),
        ...(include ? { include } : {}),
        repositories: namesOf(targets),
        ...(encrypted ? { encryption: encrypted } : {}),
        ...(incremental ? { incremental: true as const } : {}),
      };
      const { passphrase: made, ...backup } = await api.call('appBackups.create', { params: { app: name }, body });
      // Shown once, then forgotten: the list keeps the backup without it.
      setPassphrase(made ?? null);
      setStarted(backup);
      setLabel('');
      // The names typed are this app's backups' names now, offered as boxes: ticked there.
      setTargets({ checked: body.repositories, typed: '' });
    } catch (e) {
      setStartError(errorText(e));
    } finally {
      setStarting(false);
    }
  };

  const role = app ? roleOf(app, me) : null;
  const startErrors = fieldErrors(startError, ['label', 'include', 'repositories', 'encryption', 'incremental'], ['repositories', 'encryption', 'incremental']);
  return (
    <main id="main">
      <PageTitle title={name}>
        App <span class="app-name">{name}</span>
      </PageTitle>
      <ErrorNote message={error} />
      {app && (
        <>
          <p>
            {app.label && app.label !== app.name ? `${app.label}. ` : ''}
            {app.description ? `${app.description} ` : ''}
            Your role: <strong>{role ?? (me.admin ? 'administrator' : 'none')}</strong>
            {me.admin && role ? ' (and administrator)' : ''}. Contributors: {app.contributors.map((c) => `${c.email} (${c.role})`).join(', ')}.
          </p>
          {!allowed && (
            <p class="notice" role="note">
              Backups of {app.name} need the Owner or Developer role; you are {role ?? 'not a contributor'}.
            </p>
          )}
          {allowed && (
            <>
              <form class="inline-form start-form" onSubmit={start} aria-labelledby="start-heading" noValidate>
                <h2 id="start-heading">Start a backup</h2>
                <label for="backup-label">Label (optional)</label>
                <input id="backup-label" maxLength={200} value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="before-upgrade" />
                <SelectionFields id="backup" subject="the backup" schemas={schemas} schemasError={schemasError} value={selection} onChange={setSelection} />
                <RepositoryFields
                  id="backup"
                  subject="the backup"
                  list={repositories}
                  listError={repositoriesError}
                  known={known}
                  value={targets}
                  onChange={setTargets}
                  error={startErrors.byField.repositories}
                />
                <EncryptionFields
                  id="backup"
                  subject="the backup"
                  recipients={recipients}
                  recipientsError={recipientsError}
                  value={encryption}
                  onChange={setEncryption}
                  allowPassphrase={true}
                  error={startErrors.byField.encryption}
                />
                <fieldset class="incremental-fields">
                  <legend>Incremental</legend>
                  <label class="choice">
                    <input type="checkbox" checked={incremental} onChange={(e) => setIncremental(e.currentTarget.checked)} aria-describedby="backup-incremental-help" />
                    Only what changed since the latest backup
                  </label>
                  <p id="backup-incremental-help" class="hint">
                    Holds the events since the app’s latest Completed backup of the whole app, and the file versions and users they name. Restoring it reads
                    every backup of its chain, so keep them; a full backup is taken instead when there is none to continue or the chain is at its bound.
                  </p>
                  {startErrors.byField.incremental && (
                    <p class="error field-error" role="alert">
                      {startErrors.byField.incremental}
                    </p>
                  )}
                </fieldset>
                <button type="submit" disabled={starting || (encryption.mode === 'recipients' && encryption.names.length === 0)}>
                  {starting ? 'Starting…' : 'Start backup'}
                </button>
                <ErrorNote message={startErrors.rest} />
              </form>
              {passphrase && <PassphraseOnce passphrase={passphrase} onDone={() => setPassphrase(null)} />}
              <BackupsTable
                api={api}
                app={name}
                showApp={false}
                admin={me.admin}
                started={started}
                generation={generation}
                onItems={setBackups}
                onRollBack={mayRollBack ? setRollBackTo : undefined}
              />
              {mayRollBack && (
                <RollbacksSection
                  api={api}
                  app={app.name}
                  backups={backups}
                  target={rollBackTo}
                  onTargetTaken={() => setRollBackTo(null)}
                  onChanged={() => setGeneration((g) => g + 1)}
                />
              )}
              <BackupPolicySection
                api={api}
                app={app.name}
                schemas={schemas}
                schemasError={schemasError}
                repositories={repositories}
                repositoriesError={repositoriesError}
                known={known}
                recipients={recipients}
                recipientsError={recipientsError}
                onPolicy={(policy) => setPolicyNames(policy?.repositories ?? [])}
              />
              <RecipientsSection api={api} app={app.name} canEdit={canManageRecipients(app, me)} onChanged={() => setRecipientsVersion((v) => v + 1)} />
            </>
          )}
        </>
      )}
    </main>
  );
}
