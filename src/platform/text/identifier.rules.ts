import { z } from 'zod';
import { invalid } from '../domain-errors.js';
import { quoted } from './control-characters.js';

/**
 * The rules for names and ids, which the HTTP contract states (docs/api.md) and the events keep:
 * one place for both, free of any module, so the contract (src/contract) and the event catalog
 * import it alike.
 */

/** App and schema names: lowercase letters, digits and single dashes, at most NAME_MAX characters. */
export const NAME_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const NAME_MAX = 40;

/** Ids become stream names (split at `--`), blob key segments and read-model keys. */
export const ENTITY_ID = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
export const ENTITY_ID_MAX = 64;
export const entityId = () =>
  z
    .string()
    .max(ENTITY_ID_MAX, `must be an id of at most ${ENTITY_ID_MAX} characters`)
    .regex(ENTITY_ID, 'must be an id of letters, digits and single dashes');

/** Refuses an app name that breaks the rule; `what` names the field in the message. */
export function validateName(name: string, what = 'name'): void {
  if (name.length > NAME_MAX || !NAME_PATTERN.test(name)) {
    throw invalid(`${what}: ${quoted(name, NAME_MAX + 20)} must be lowercase letters, digits and single dashes (like "my-app"), at most ${NAME_MAX} characters`);
  }
}
