import { ASSET_CHOICES, type AssetChoice } from '@contract/api-values.js';
import type { Schema } from '@contract/app-schemas.schemas.js';
import type { Selection } from '@contract/backups.schemas.js';

/** The form's state of what a backup holds; `contents` is kept as given elsewhere (the CLI), never edited here. */
export interface SelectionChoice {
  onlySome: boolean;
  schemas: string[];
  contents: string[] | null;
  assets: AssetChoice;
}

export const WHOLE_APP: SelectionChoice = { onlySome: false, schemas: [], contents: null, assets: 'all' };

export const choiceOf = (include: Selection | null): SelectionChoice =>
  include ? { onlySome: include.schemas !== null, schemas: include.schemas ?? [], contents: include.contents, assets: include.assets } : WHOLE_APP;

/**
 * The request's `include`, or `undefined` for the whole app. An empty schema list is sent as it is:
 * the API's 400 says what it must be.
 */
export function includeOf(choice: SelectionChoice): { schemas: string[] | null; contents?: string[] | null; assets: AssetChoice } | undefined {
  if (!choice.onlySome && choice.contents === null && choice.assets === 'all') return undefined;
  return { schemas: choice.onlySome ? choice.schemas : null, ...(choice.contents ? { contents: choice.contents } : {}), assets: choice.assets };
}

const ASSET_LABELS: Record<AssetChoice, string> = {
  all: 'All assets',
  referenced: 'Only the assets its contents reference',
  none: 'No assets',
};

interface Props {
  /** Prefixes the controls' ids and radio groups, so two forms on a page stay apart. */
  id: string;
  /** What the backup is called in the legends: "backup", "each scheduled backup". */
  subject: string;
  schemas: Schema[] | null;
  schemasError: string | null;
  value: SelectionChoice;
  onChange: (value: SelectionChoice) => void;
}

/** What a backup holds: the whole app, or only some schemas; and which assets. */
export function SelectionFields({ id, subject, schemas, schemasError, value, onChange }: Props) {
  const toggle = (name: string, on: boolean) =>
    onChange({ ...value, schemas: on ? [...value.schemas.filter((s) => s !== name), name].sort() : value.schemas.filter((s) => s !== name) });
  // Schemas named by a policy but gone from the app stay listed, so saving again keeps them visibly.
  const names = [...new Set([...(schemas ?? []).map((s) => s.name), ...value.schemas])].sort();
  return (
    <div class="form-row">
      <fieldset>
        <legend>What {subject} holds</legend>
        <label class="choice">
          <input type="radio" name={`${id}-scope`} checked={!value.onlySome} onChange={() => onChange({ ...value, onlySome: false })} /> The whole app
        </label>
        <label class="choice">
          <input type="radio" name={`${id}-scope`} checked={value.onlySome} onChange={() => onChange({ ...value, onlySome: true })} /> Only some schemas
        </label>
        {value.onlySome && (
          <div class="checks" role="group" aria-label={`Schemas ${subject} holds`}>
            {schemas === null && !schemasError && <span class="hint">Loading schemas…</span>}
            {schemasError && <span class="error-text">{schemasError}</span>}
            {schemas !== null && names.length === 0 && <span class="hint">The app has no schemas.</span>}
            {names.map((name) => (
              <label class="choice" key={name}>
                <input type="checkbox" id={`${id}-schema-${name}`} checked={value.schemas.includes(name)} onChange={(e) => toggle(name, e.currentTarget.checked)} /> {name}
              </label>
            ))}
          </div>
        )}
        {value.contents && (
          <p class="hint">
            Also limited to {value.contents.length} listed content{value.contents.length === 1 ? '' : 's'} (set through the API or the CLI; kept as they are).
          </p>
        )}
      </fieldset>
      <fieldset>
        <legend>Assets</legend>
        {ASSET_CHOICES.map((choice) => (
          <label class="choice" key={choice}>
            <input type="radio" name={`${id}-assets`} value={choice} checked={value.assets === choice} onChange={() => onChange({ ...value, assets: choice })} /> {ASSET_LABELS[choice]}
          </label>
        ))}
      </fieldset>
    </div>
  );
}
