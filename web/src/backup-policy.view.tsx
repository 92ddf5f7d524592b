import { useEffect, useState } from 'preact/hooks';
import { KEEP_RULES, type KeepRule } from '@contract/api-values.js';
import type { Schema } from '@contract/app-schemas.schemas.js';
import { type ApiClient, ApiError } from '@contract/client/api-client.js';
import type { BodyOf } from '@contract/client/api-types.js';
import type { Recipient } from '@contract/encryption.schemas.js';
import type { BackupPolicy } from '@contract/policies.schemas.js';
import type { Repository } from '@contract/repositories.schemas.js';
import { errorText } from './api.util.js';
import { choiceOf, includeOf, type SelectionChoice, SelectionFields, WHOLE_APP } from './backup-selection.view.js';
import { ConfirmDialog } from './confirm-dialog.view.js';
import { fieldErrors } from './field-errors.util.js';
import { formatTime, selectionText } from './format.util.js';
import { EncryptionFields, type EncryptionChoice, encryptionChoiceOf, encryptionOf, PLAIN } from './encryption-fields.view.js';
import { ErrorNote } from './page-parts.view.js';
import { LockModeOptions, LOCAL_ONLY, namesOf, type RepositoryChoice, RepositoryFields } from './repository-choice.view.js';

const KEEP_LABELS: Record<KeepRule, { label: string; unit: string; text: (n: number) => string }> = {
  keepLast: { label: 'Keep the last', unit: 'backups', text: (n) => `the last ${n}` },
  keepDaily: { label: 'Keep one a day for', unit: 'days', text: (n) => `one a day for ${n} day${n === 1 ? '' : 's'}` },
  keepWeekly: { label: 'Keep one a week for', unit: 'weeks', text: (n) => `one a week for ${n} week${n === 1 ? '' : 's'}` },
  keepMonthly: { label: 'Keep one a month for', unit: 'months', text: (n) => `one a month for ${n} month${n === 1 ? '' : 's'}` },
};

type Keeps = Record<KeepRule, string>;
const NO_KEEPS: Keeps = { keepLast: '', keepDaily: '', keepWeekly: '', keepMonthly: '' };

/** The request's fields, for telling one 400's problems apart (field-errors.util.ts). */
const POLICY_FIELDS = ['schedule', ...KEEP_RULES, 'include', 'repositories', 'objectLock', 'encryption'];

type LockMode = '' | 'GOVERNANCE' | 'COMPLIANCE';

/** "GOVERNANCE, 30 days, in the repositories that can lock copies"; "none". */
export const lockText = (lock: BackupPolicy['objectLock']) => (lock ? `${lock.mode}, ${lock.days} day${lock.days === 1 ? '' : 's'}, in the repositories that can lock copies` : 'none');

/** "keep the last 7; one a day for 14 days"; "keep every scheduled backup" without rules. */
export function retentionText(policy: BackupPolicy): string {
  const rules = KEEP_RULES.flatMap((rule) => {
    const n = policy[rule];
    return n === null ? [] : [KEEP_LABELS[rule].text(n)];
  });
  return rules.length === 0 ? 'no rules: scheduled backups are kept (up to the per-app limit)' : `keep ${rules.join('; ')}`;
}

/** A number as typed goes as a number; anything else goes as typed, for the API's 400 to name. */
const keepValue = (text: string): number | string => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : text);

interface Props {
  api: ApiClient;
  app: string;
  schemas: Schema[] | null;
  schemasError: string | null;
  /** An admin's list of repositories; null for others (see RepositoryFields). */
  repositories: Repository[] | null;
  repositoriesError: string | null;
  /** Repository names this app's backups use, offered when there is no list. */
  known: readonly string[];
  /** The recipients the app's backups may name (null while loading). */
  recipients: Recipient[] | null;
  recipientsError: string | null;
  /** Told the policy whenever it is read or changes (null: none). */
  onPolicy?: (policy: BackupPolicy | null) => void;
}

/** An app's backup policy (GET/PUT/DELETE …/backup-policy): the schedule, what it holds, where its copies go, its retention. */
export function BackupPolicySection({ api, app, schemas, schemasError, repositories, repositoriesError, known, recipients, recipientsError, onPolicy }: Props) {
  // undefined: loading; null: the app has none.
  const [policy, setPolicy] = useState<BackupPolicy | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [schedule, setSchedule] = useState('');
  const [keeps, setKeeps] = useState<Keeps>(NO_KEEPS);
  const [selection, setSelection] = useState<SelectionChoice>(WHOLE_APP);
  const [targets, setTargets] = useState<RepositoryChoice>(LOCAL_ONLY);
  const [lockMode, setLockMode] = useState<LockMode>('');
  const [lockDays, setLockDays] = useState('');
  const [encryption, setEncryption] = useState<EncryptionChoice>(PLAIN);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  const fill = (from: BackupPolicy | null) => {
    setSchedule(from?.schedule ?? '');
    setKeeps(from ? { keepLast: String(from.keepLast ?? ''), keepDaily: String(from.keepDaily ?? ''), keepWeekly: String(from.keepWeekly ?? ''), keepMonthly: String(from.keepMonthly ?? '') } : NO_KEEPS);
    setSelection(choiceOf(from?.include ?? null));
    // Every name a policy holds is offered (an admin's list has it; for others it is among `known` below), so all are ticked.
    setTargets(from ? { checked: from.repositories, typed: '' } : LOCAL_ONLY);
    setLockMode(from?.objectLock?.mode ?? '');
    setLockDays(from?.objectLock ? String(from.objectLock.days) : '');
    setEncryption(encryptionChoiceOf(from?.encryption));
    onPolicy?.(from);
  };

  useEffect(() => {
    const abort = new AbortController();
    api.call('backupPolicy.get', { params: { app }, signal: abort.signal }).then(
      (found) => {
        setPolicy(found);
        fill(found);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        if (e instanceof ApiError && e.status === 404) setPolicy(null);
        else setLoadError(errorText(e));
      },
    );
    return () => abort.abort();
  }, [api, app]);

  const save = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    setError(null);
    setNotice(null);
    const body: Record<string, unknown> = { schedule };
    for (const rule of KEEP_RULES) if (keeps[rule].trim() !== '') body[rule] = keepValue(keeps[rule]);
    const include = includeOf(selection);
    if (include) body['include'] = include;
    body['repositories'] = namesOf(targets);
    body['objectLock'] = lockMode ? { mode: lockMode, days: keepValue(lockDays) } : null;
    body['encryption'] = encryptionOf(encryption) ?? null;
    try {
      // Sent as typed (a keep rule may be text), so the API's 400 names what is wrong with it.
      const saved = await api.call('backupPolicy.put', { params: { app }, body: body as BodyOf<'backupPolicy.put'> });
      setNotice(policy ? 'Schedule replaced.' : 'Schedule set.');
      setPolicy(saved);
      fill(saved);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    setConfirming(false);
    setError(null);
    setNotice(null);
    try {
      await api.call('backupPolicy.delete', { params: { app } });
      setPolicy(null);
      fill(null);
      setNotice('Schedule removed; the backups it made are kept.');
    } catch (e) {
      setError(errorText(e));
    }
  };

  const errors = fieldErrors(error, POLICY_FIELDS, ['repositories', 'objectLock', 'encryption']);
  return (
    <section aria-labelledby="policy-heading" class="policy">
      <h2 id="policy-heading">Scheduled backups</h2>
      <ErrorNote message={loadError} />
      <p class="notice" role="status">
        {notice}
      </p>
      {policy === undefined && !loadError && <p>Loading the schedule…</p>}
      {policy === null && (
        <p data-testid="policy-summary">
          <strong>No schedule.</strong> Backups of {app} start only when someone starts one.
        </p>
      )}
      {policy && (
        <dl class="facts" data-testid="policy-summary">
          <dt>Schedule</dt>
          <dd>
            <code data-testid="policy-schedule">{policy.schedule}</code> (cron, UTC)
          </dd>
          <dt>Holds</dt>
          <dd>{selectionText(policy.include)}</dd>
          <dt>Retention</dt>
          <dd>{retentionText(policy)}</dd>
          <dt>Copies to</dt>
          <dd data-testid="policy-repositories">{policy.repositories.join(', ')}</dd>
          <dt>Object Lock</dt>
          <dd data-testid="policy-lock">{lockText(policy.objectLock)}</dd>
          <dt>Encrypted</dt>
          <dd data-testid="policy-encryption">{policy.encryption ? `to ${policy.encryption.recipients.join(', ')}` : 'no'}</dd>
          <dt>Next run</dt>
          <dd>
            <time dateTime={policy.nextRun}>{formatTime(policy.nextRun)}</time>
          </dd>
          <dt>Last run</dt>
          <dd>
            {policy.lastRun ? <time dateTime={policy.lastRun}>{formatTime(policy.lastRun)}</time> : 'not yet'}
            {policy.lastBackupId && (
              <>
                {' '}
                (<a href={`#backup-${policy.lastBackupId}`}>its backup</a>)
              </>
            )}
          </dd>
          {policy.lastError && (
            <>
              <dt>Last problem</dt>
              <dd class="error-text">{policy.lastError}</dd>
            </>
          )}
          {policy.lastWarning && (
            <>
              <dt>Last warning</dt>
              <dd class="warning" data-testid="policy-warning">
                {policy.lastWarning}
              </dd>
            </>
          )}
          <dt>Set</dt>
          <dd>
            {formatTime(policy.created)}
            {policy.updated !== policy.created && `, changed ${formatTime(policy.updated)}`}
          </dd>
        </dl>
      )}
      {policy !== undefined && (
        <form class="panel-form" onSubmit={save} noValidate aria-labelledby="policy-form-heading">
          <h3 id="policy-form-heading">{policy ? 'Replace the schedule' : 'Set a schedule'}</h3>
          <div class="field">
            <label for="policy-schedule">Schedule (cron, UTC)</label>
            <input
              id="policy-schedule"
              value={schedule}
              maxLength={200}
              autocomplete="off"
              spellcheck={false}
              placeholder="0 3 * * *"
              aria-describedby="policy-schedule-hint"
              onInput={(e) => setSchedule(e.currentTarget.value)}
            />
            <span id="policy-schedule-hint" class="hint">
              5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; <code>0 3 * * *</code> is every day at 03:00 UTC.
            </span>
          </div>
          <fieldset>
            <legend>Retention of scheduled backups (optional)</legend>
            <p class="hint">A backup any rule keeps is kept; manual backups are never pruned. With no rule, none is pruned.</p>
            <div class="keeps">
              {KEEP_RULES.map((rule) => (
                <div class="keep" key={rule}>
                  <label for={`policy-${rule}`}>
                    {KEEP_LABELS[rule].label} <span class="muted">({KEEP_LABELS[rule].unit})</span>
                  </label>
                  <input
                    id={`policy-${rule}`}
                    inputMode="numeric"
                    size={6}
                    value={keeps[rule]}
                    onInput={(e) => {
                      const text = e.currentTarget.value;
                      setKeeps((current) => ({ ...current, [rule]: text }));
                    }}
                  />
                </div>
              ))}
            </div>
          </fieldset>
          <SelectionFields id="policy" subject="each scheduled backup" schemas={schemas} schemasError={schemasError} value={selection} onChange={setSelection} />
          <RepositoryFields
            id="policy"
            subject="each scheduled backup"
            list={repositories}
            listError={repositoriesError}
            known={[...known, ...(policy?.repositories ?? [])]}
            value={targets}
            onChange={setTargets}
            error={errors.byField.repositories}
          />
          <EncryptionFields
            id="policy"
            subject="each scheduled backup"
            recipients={recipients}
            recipientsError={recipientsError}
            value={encryption}
            onChange={setEncryption}
            allowPassphrase={false}
            error={errors.byField.encryption}
          />
          <fieldset class="lock-choice" aria-describedby={`policy-lock-hint${errors.byField.objectLock ? ' policy-lock-error' : ''}`} aria-invalid={errors.byField.objectLock ? true : undefined}>
            <legend>Object Lock for the copies (optional)</legend>
            <div class="keeps">
              <div class="keep">
                <label for="policy-lock-mode">Mode</label>
                <select id="policy-lock-mode" value={lockMode} onChange={(e) => setLockMode(e.currentTarget.value as LockMode)}>
                  <LockModeOptions />
                </select>
              </div>
              {lockMode && (
                <div class="keep">
                  <label for="policy-lock-days">
                    Lock each copy for <span class="muted">(days)</span>
                  </label>
                  <input id="policy-lock-days" inputMode="numeric" size={6} value={lockDays} onInput={(e) => setLockDays(e.currentTarget.value)} />
                </div>
              )}
            </div>
            <p id="policy-lock-hint" class="hint">
              Only where a repository can lock copies (S3 with Object Lock); a repository’s own lock is never shortened. Retention keeps a backup while a copy is locked.
            </p>
            {errors.byField.objectLock && (
              <p id="policy-lock-error" class="error field-error" role="alert">
                {errors.byField.objectLock}
              </p>
            )}
          </fieldset>
          <div class="actions-row">
            <button type="submit" disabled={saving}>
              {saving ? 'Saving…' : policy ? 'Replace schedule' : 'Set schedule'}
            </button>
            {policy && (
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Remove schedule
              </button>
            )}
          </div>
          <ErrorNote message={errors.rest} />
        </form>
      )}
      {confirming && (
        <ConfirmDialog title="Remove the backup schedule?" confirmLabel="Remove schedule" onCancel={() => setConfirming(false)} onConfirm={() => void remove()}>
          <p>
            No more backups of <strong>{app}</strong> start on <code>{policy?.schedule}</code>. The backups it made are kept, and no longer pruned.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
