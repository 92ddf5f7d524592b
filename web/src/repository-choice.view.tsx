import type { ApiClient } from '@contract/client/api-client.js';
import type { Repository } from '@contract/repositories.schemas.js';
import { useRead } from './api.util.js';

/** The installation's own store: every installation has it, and a backup goes there when it names none (docs/api.md). */
export const LOCAL = 'local';

/** The form's state: the offered names ticked, and names typed by hand (those the viewer cannot list). */
export interface RepositoryChoice {
  checked: string[];
  typed: string;
}

export const LOCAL_ONLY: RepositoryChoice = { checked: [LOCAL], typed: '' };

/** The names a request sends, in the order offered, then as typed; a name given twice goes once. */
export function namesOf(choice: RepositoryChoice): string[] {
  const typed = choice.typed.split(/[\s,]+/).filter((name) => name !== '');
  return [...new Set([...choice.checked, ...typed])];
}

/**
 * The repositories an admin may choose from (GET /api/repositories is for admins); `null` for
 * anyone else, who names repositories without a list.
 */
export function useRepositoryList(api: ApiClient, admin: boolean): [Repository[] | null, string | null] {
  const [list, error] = useRead((signal) => (admin ? api.call('repositories.list', { signal }).then((found) => found.items) : Promise.resolve(null)), [api, admin]);
  return [list, error];
}

/** The names a form offers: an admin's list, or `local` and the names the viewer has seen (`known`). */
export function offeredNames(list: Repository[] | null, known: readonly string[]): string[] {
  return list ? list.map((repository) => repository.name) : [...new Set([LOCAL, ...known])];
}

function whereIs(repository: Repository): string {
  const protection = repository.objectLock ? `, locks copies ${repository.objectLock.mode} for ${repository.objectLock.days} day${repository.objectLock.days === 1 ? '' : 's'}` : repository.appendOnly ? ', append-only' : '';
  return repository.type === 'local' ? 'this installation’s own store' : `${repository.location}${protection}`;
}

interface Props {
  /** Prefixes the controls' ids, so two forms on a page stay apart. */
  id: string;
  /** "the backup", "each scheduled backup". */
  subject: string;
  /** An admin's list of repositories; null for others. */
  list: Repository[] | null;
  listError: string | null;
  /** Names the viewer has seen on this app (its backups, its schedule), offered when there is no list. */
  known: readonly string[];
  value: RepositoryChoice;
  onChange: (value: RepositoryChoice) => void;
  /** The API's words about the `repositories` field, shown here. */
  error: string | undefined;
}

/** Where a backup's copies go: one or more repositories, `local` (this installation's store) by default. */
export function RepositoryFields({ id, subject, list, listError, known, value, onChange, error }: Props) {
  // A name ticked stays in sight even when nothing else offers it (a backup of it was deleted), so nothing is sent unseen.
  const offered = [...new Set([...offeredNames(list, known), ...value.checked])];
  const byName = new Map((list ?? []).map((repository) => [repository.name, repository]));
  const toggle = (name: string, on: boolean) => onChange({ ...value, checked: offered.filter((other) => (other === name ? on : value.checked.includes(other))) });
  const hintId = `${id}-repositories-hint`;
  const errorId = `${id}-repositories-error`;
  return (
    <fieldset class="repositories-choice" aria-describedby={`${hintId}${error ? ` ${errorId}` : ''}`} aria-invalid={error ? true : undefined}>
      <legend>Where copies of {subject} go</legend>
      <div class="checks" role="group" aria-label={`Repositories ${subject} goes to`}>
        {offered.map((name) => {
          const repository = byName.get(name);
          return (
            <label class="choice" key={name}>
              <input type="checkbox" id={`${id}-repository-${name}`} checked={value.checked.includes(name)} onChange={(e) => toggle(name, e.currentTarget.checked)} /> {name}
              {repository && <span class="muted"> ({whereIs(repository)})</span>}
            </label>
          );
        })}
      </div>
      {list === null && (
        <div class="field">
          <label for={`${id}-repositories-typed`}>Other repositories (names, separated by commas)</label>
          <input
            id={`${id}-repositories-typed`}
            value={value.typed}
            autocomplete="off"
            spellcheck={false}
            placeholder="offsite"
            onInput={(e) => onChange({ ...value, typed: e.currentTarget.value })}
          />
        </div>
      )}
      <p id={hintId} class="hint">
        {list === null
          ? `Only administrators can list the repositories: offered here are ${LOCAL} (this installation’s own store) and those this app’s backups and schedule already use. Name others as an administrator gave them to you; up to 4.`
          : 'Up to 4. Each copy is checked after it is written; a copy that fails does not stop the others.'}
      </p>
      {listError && <p class="error-text">{listError}</p>}
      {error && (
        <p id={errorId} class="error field-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}

/** The choices of an Object Lock's mode (a repository's or a policy's), "" for none. */
export function LockModeOptions() {
  return (
    <>
      <option value="">No lock</option>
      <option value="GOVERNANCE">GOVERNANCE (an operator with the bypass permission may lift it)</option>
      <option value="COMPLIANCE">COMPLIANCE (nobody can lift it)</option>
    </>
  );
}
