import { useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { Encryption, EncryptionInput, Recipient } from '@contract/encryption.schemas.js';
import { useRead } from './api.util.js';
import { ErrorNote } from './page-parts.view.js';

/**
 * Encryption on the page: what a backup or a schedule is encrypted to (recipients the app may
 * name, or a passphrase the server makes once), and the key a restore of an encrypted archive
 * takes. Keys typed or read here go into one request and are kept in no storage of the browser.
 */

export type EncryptionChoice = { mode: 'none' } | { mode: 'recipients'; names: string[] } | { mode: 'passphrase' };
export const PLAIN: EncryptionChoice = { mode: 'none' };

/** The request's `encryption`, or nothing for a plain zip. */
export function encryptionOf(choice: EncryptionChoice): EncryptionInput | undefined {
  if (choice.mode === 'recipients') return { recipients: choice.names };
  if (choice.mode === 'passphrase') return { passphrase: true };
  return undefined;
}

/** A stored policy's or backup's encryption as a choice of the form. */
export function encryptionChoiceOf(encryption: EncryptionInput | null | undefined): EncryptionChoice {
  if (encryption?.recipients) return { mode: 'recipients', names: encryption.recipients };
  if (encryption?.passphrase) return { mode: 'passphrase' };
  return PLAIN;
}

/** "to ops, age1…"; "with a passphrase"; "no" (a plain zip). */
export function encryptionText(encryption: Encryption | null): string {
  if (!encryption) return 'no';
  if (encryption.passphrase) return 'with a passphrase';
  return `to ${encryption.recipients.map((r) => r.name ?? `${r.recipient.slice(0, 12)}…`).join(', ')}`;
}

/** The recipients an app's backups may name: the app's own, then the installation's. */
export function useAppRecipients(api: ApiClient, app: string, version = 0): [Recipient[] | null, string | null] {
  const [listed, error] = useRead((signal) => api.call('appRecipients.list', { params: { app }, signal }), [api, app, version]);
  return [listed?.items ?? null, error];
}

interface FieldsProps {
  id: string;
  /** "the backup", "each scheduled backup". */
  subject: string;
  recipients: Recipient[] | null;
  recipientsError: string | null;
  value: EncryptionChoice;
  onChange: (choice: EncryptionChoice) => void;
  /** A passphrase needs someone to receive it: backups started by hand only. */
  allowPassphrase: boolean;
  error?: string | null;
}

/** Plain zip, encrypted to recipients (ticked from the app's list), or with a passphrase made once. */
export function EncryptionFields({ id, subject, recipients, recipientsError, value, onChange, allowPassphrase, error }: FieldsProps) {
  const names = value.mode === 'recipients' ? value.names : [];
  const toggle = (name: string, on: boolean) => {
    const next = on ? [...names, name] : names.filter((n) => n !== name);
    onChange({ mode: 'recipients', names: next });
  };
  return (
    <fieldset class="encryption-fields" aria-describedby={`${id}-encryption-hint`}>
      <legend>Encryption</legend>
      <label class="choice">
        <input type="radio" name={`${id}-encryption`} checked={value.mode === 'none'} onChange={() => onChange(PLAIN)} /> None (a plain zip)
      </label>
      <label class="choice">
        <input type="radio" name={`${id}-encryption`} checked={value.mode === 'recipients'} onChange={() => onChange({ mode: 'recipients', names })} /> To recipients (age public keys)
      </label>
      {value.mode === 'recipients' && (
        <div class="field recipient-choice" role="group" aria-label={`Recipients of ${subject}`}>
          {recipients === null && !recipientsError && <span class="hint">Loading recipients…</span>}
          {recipients?.length === 0 && <span class="hint">No recipients yet: an Owner adds them below, an administrator on the Encryption page.</span>}
          {recipients?.map((r) => (
            <label class="choice" key={`${r.scope}-${r.name}`}>
              <input type="checkbox" checked={names.includes(r.name)} onChange={(e) => toggle(r.name, e.currentTarget.checked)} /> {r.name}{' '}
              <code class="key" title={r.recipient}>
                {r.recipient.slice(0, 16)}…
              </code>{' '}
              <span class="muted">({r.scope === 'app' ? 'this app' : 'every app'})</span>
            </label>
          ))}
          <ErrorNote message={recipientsError} />
        </div>
      )}
      {allowPassphrase && (
        <label class="choice">
          <input type="radio" name={`${id}-encryption`} checked={value.mode === 'passphrase'} onChange={() => onChange({ mode: 'passphrase' })} /> With a passphrase (made by the server, shown to you
          once)
        </label>
      )}
      <span id={`${id}-encryption-hint`} class="hint">
        Encrypted archives are .zip.age files that age opens; the server keeps no key that opens them (unless you choose its own recipient).
      </span>
      <ErrorNote message={error ?? null} />
    </fieldset>
  );
}

/** The passphrase a backup was made with, shown this once: nothing keeps it after the notice is closed. */
export function PassphraseOnce({ passphrase, onDone }: { passphrase: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="notice passphrase-once" role="alert">
      <p>
        <strong>Write this passphrase down now.</strong> It opens the backup just started, and AppVault keeps it nowhere: without it the archive cannot be restored.
      </p>
      <p>
        <code data-testid="backup-passphrase">{passphrase}</code>{' '}
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(passphrase).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>{' '}
        <button type="button" onClick={onDone}>
          I have kept it
        </button>
      </p>
    </div>
  );
}

export type KeyChoice = { mode: 'none' } | { mode: 'identity'; text: string } | { mode: 'passphrase'; text: string };
export const NO_KEY: KeyChoice = { mode: 'none' };

/** The request's `identity` or `passphrase` fields; nothing when none was given. */
export function keysOf(choice: KeyChoice): { identity?: string; passphrase?: string } {
  if (choice.mode === 'identity' && choice.text.trim()) return { identity: choice.text };
  if (choice.mode === 'passphrase' && choice.text) return { passphrase: choice.text };
  return {};
}

/** What opens an encrypted archive, for this one request: an identity (typed or read from a file) or a passphrase. */
export function KeyFields({ id, value, onChange }: { id: string; value: KeyChoice; onChange: (choice: KeyChoice) => void }) {
  const [fileError, setFileError] = useState<string | null>(null);
  const readFile = (file: File | undefined) => {
    setFileError(null);
    if (!file) return;
    if (file.size > 16 * 1024) {
      setFileError(`${file.name} is ${file.size} bytes; an identity file is at most 16 KiB`);
      return;
    }
    file.text().then(
      (text) => onChange({ mode: 'identity', text }),
      () => setFileError(`${file.name} could not be read`),
    );
  };
  return (
    <fieldset class="key-fields">
      <legend>Key (encrypted archives only)</legend>
      <label class="choice">
        <input type="radio" name={`${id}-key`} checked={value.mode === 'none'} onChange={() => onChange(NO_KEY)} /> None: a plain zip, or encrypted to this installation
      </label>
      <label class="choice">
        <input type="radio" name={`${id}-key`} checked={value.mode === 'identity'} onChange={() => onChange({ mode: 'identity', text: '' })} /> An identity (age private key)
      </label>
      {value.mode === 'identity' && (
        <div class="field">
          <label for={`${id}-identity`}>Identity (AGE-SECRET-KEY-1…, or an identity file’s text)</label>
          <textarea
            id={`${id}-identity`}
            rows={3}
            autocomplete="off"
            spellcheck={false}
            value={value.text}
            onInput={(e) => onChange({ mode: 'identity', text: e.currentTarget.value })}
          />
          <label for={`${id}-identity-file`}>or read it from a file</label>
          <input id={`${id}-identity-file`} type="file" onChange={(e) => readFile(e.currentTarget.files?.[0])} />
          <ErrorNote message={fileError} />
        </div>
      )}
      <label class="choice">
        <input type="radio" name={`${id}-key`} checked={value.mode === 'passphrase'} onChange={() => onChange({ mode: 'passphrase', text: '' })} /> A passphrase
      </label>
      {value.mode === 'passphrase' && (
        <div class="field">
          <label for={`${id}-passphrase`}>Passphrase</label>
          <input id={`${id}-passphrase`} type="password" autocomplete="off" value={value.text} onInput={(e) => onChange({ mode: 'passphrase', text: e.currentTarget.value })} />
        </div>
      )}
      <span class="hint">Sent with this request only; the server uses it for this job and keeps it nowhere.</span>
    </fieldset>
  );
}
