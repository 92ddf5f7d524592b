import { useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { Recipient } from '@contract/encryption.schemas.js';
import { errorText, useRead } from './api.util.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { fieldErrors } from './field-errors.util.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';

/**
 * Recipients: the age public keys backups may be encrypted to. An app's Owner manages the app's
 * own, an admin those of every app (the Encryption page, with the installation's own key that a
 * source installation encrypts migrations to).
 */

interface Props {
  api: ApiClient;
  /** The app's recipients; none for the installation's. */
  app?: string;
  /** Whether the viewer may add and remove them (Owner for an app's, admin for the installation's). */
  canEdit: boolean;
  /** Told after a change, so the forms that offer recipients read them again. */
  onChanged?: () => void;
}

export function RecipientsSection({ api, app, canEdit, onChanged }: Props) {
  const [version, setVersion] = useState(0);
  const [listed, loadError] = useRead((signal) => (app ? api.call('appRecipients.list', { params: { app }, signal }) : api.call('recipients.list', { signal })), [api, app, version]);
  const [name, setName] = useState('');
  const [recipient, setRecipient] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Recipient | null>(null);
  const changed = () => {
    setVersion((v) => v + 1);
    onChanged?.();
  };

  const add = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), recipient: recipient.trim() };
      if (app) await api.call('appRecipients.create', { params: { app }, body });
      else await api.call('recipients.create', { body });
      setName('');
      setRecipient('');
      changed();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (target: Recipient) => {
    setRemoving(null);
    setError(null);
    try {
      if (app) await api.call('appRecipients.delete', { params: { app, name: target.name } });
      else await api.call('recipients.delete', { params: { name: target.name } });
      changed();
    } catch (e) {
      setError(errorText(e));
    }
  };

  // Installation recipients show on an app's list too; only its own are removed here.
  const removable = (r: Recipient) => canEdit && (app ? r.scope === 'app' : r.scope === 'installation');
  const errors = fieldErrors(error, ['name', 'recipient'], ['name', 'recipient'] as const);
  const headingId = app ? 'app-recipients-heading' : 'recipients-heading';
  return (
    <section class="recipients" aria-labelledby={headingId}>
      <h2 id={headingId}>{app ? 'Recipients of this app’s encrypted backups' : 'Recipients for every app'}</h2>
      <p class="hint">
        {app
          ? 'Public keys (age1…) this app’s backups and schedule may be encrypted to: the app’s own, then those an administrator gave every app.'
          : 'Public keys (age1…) any app’s backups and schedules may be encrypted to. Whoever holds the matching identity can open those backups; the server never needs it.'}
      </p>
      <ErrorNote message={loadError} />
      {listed && listed.items.length === 0 && <p class="muted">No recipients yet.</p>}
      {listed && listed.items.length > 0 && (
        <ul class="recipient-list">
          {listed.items.map((r) => (
            <li key={`${r.scope}-${r.name}`} data-testid={`recipient-${r.name}`}>
              <strong>{r.name}</strong> <code class="key">{r.recipient}</code> <span class="muted">({r.scope === 'app' ? 'this app' : 'every app'})</span>{' '}
              {removable(r) && (
                <button type="button" onClick={() => setRemoving(r)} aria-label={`Remove recipient ${r.name}`}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canEdit && (
        <form class="inline-form" onSubmit={add} noValidate aria-label={app ? 'Add a recipient for this app' : 'Add a recipient for every app'}>
          <label for={`${headingId}-name`}>Recipient name</label>
          <input id={`${headingId}-name`} value={name} maxLength={40} placeholder="ops-laptop" onInput={(e) => setName(e.currentTarget.value)} aria-invalid={errors.byField.name ? true : undefined} />
          <ErrorNote message={errors.byField.name ?? null} />
          <label for={`${headingId}-key`}>Public key</label>
          <input
            id={`${headingId}-key`}
            value={recipient}
            spellcheck={false}
            autocomplete="off"
            placeholder="age1…"
            onInput={(e) => setRecipient(e.currentTarget.value)}
            aria-invalid={errors.byField.recipient ? true : undefined}
          />
          <ErrorNote message={errors.byField.recipient ?? null} />
          <button type="submit" disabled={busy || !name.trim() || !recipient.trim()}>
            Add recipient
          </button>
          <ErrorNote message={errors.rest} />
        </form>
      )}
      {removing && (
        <ConfirmDialog title={`Remove the recipient ${removing.name}?`} confirmLabel="Remove recipient" onCancel={() => setRemoving(null)} onConfirm={() => void remove(removing)}>
          <p>New backups and schedules can no longer name it. Backups already encrypted to it stay so, and its identity still opens them.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** The admins' Encryption page: the installation's recipients, and its own public key for migrations to it. */
export function EncryptionPage({ api }: { api: ApiClient }) {
  const [own, ownError] = useRead((signal) => api.call('installation.recipient', { signal }), [api]);
  return (
    <main id="main">
      <PageTitle title="Encryption">Encryption</PageTitle>
      <section aria-labelledby="own-recipient-heading">
        <h2 id="own-recipient-heading">This installation’s own recipient</h2>
        <p>
          To move an app here encrypted, the source installation adds this public key as a recipient and backs up to it; the migration link then carries ciphertext only this installation opens.
          Its private key stays here.
        </p>
        <ErrorNote message={ownError} />
        {own && (
          <p>
            <code class="key" data-testid="own-recipient">
              {own.recipient}
            </code>
          </p>
        )}
      </section>
      <RecipientsSection api={api} canEdit={true} />
    </main>
  );
}
