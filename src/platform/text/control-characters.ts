/**
 * The one list of characters that text from elsewhere (a request, an archive, an event, another
 * server) must not carry as they are into a terminal, a log line, a file name or a name AppVault
 * stores: controls (C0 with line feed, carriage return and tab, DEL, C1, so ESC and CSI and every
 * escape sequence they start), format characters (bidirectional overrides and isolates, zero-width
 * spaces, the BOM, invisible tag letters), the line and paragraph separators, and unpaired
 * surrogates. The zero-width joiner and non-joiner are text: emoji and several scripts need them,
 * and they neither move nor hide anything.
 *
 * Names, labels and the strings of an archive refuse them (`controlCharacterProblem`, and the zod
 * checks in plain-text.checks.ts); text shown to people has them escaped (`escapeControlCharacters`
 * for log lines and terminals, `escapeJsonControls` for JSON, `quoted`/`excerpt` inside messages).
 * Free of zod and Nest, so the CLI loads it at no cost.
 */
const UNSAFE_SOURCE = '(?![\\u200c\\u200d])[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}]';
const ANY_UNSAFE = new RegExp(UNSAFE_SOURCE, 'u');

/** A fresh global pattern for `replace` and `matchAll` (a shared one would carry `lastIndex` between calls). */
export const controlCharacters = () => new RegExp(UNSAFE_SOURCE, 'gu');

export const hasControlCharacters = (text: string): boolean => ANY_UNSAFE.test(text);

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

/** `U+001B`: how messages name a character a person cannot see. */
export function codePoint(character: string): string {
  return `U+${hex(character.codePointAt(0)!, 4).toUpperCase()}`;
}

/** The first control character of `text` that `allowed` does not list, named as `U+001B`. */
export function findControlCharacter(text: string, allowed: readonly string[] = []): string | undefined {
  if (!ANY_UNSAFE.test(text)) return undefined;
  for (const [character] of text.matchAll(controlCharacters())) if (!allowed.includes(character)) return codePoint(character);
  return undefined;
}

/**
 * The ones messages call control characters: C0, DEL, C1, the line and paragraph separators and
 * the bidirectional controls. The rest of the list (zero-width spaces, the BOM, tag letters, lone
 * surrogates) are called invisible characters, which is what a person would see of them.
 */
const CONTROLS_PROPER = /^[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]$/;

/** Line breaks and tabs: what a multi-line text (an app's description) may hold. */
export const LINE_BREAKS_AND_TABS: readonly string[] = ['\n', '\t'];

/**
 * Why `text` may not be stored as a name, a label or another plain text, or undefined when it may:
 * `contains a control character (U+001B); …`. `allowed` lists the ones a field accepts.
 */
export function controlCharacterProblem(text: string, allowed: readonly string[] = []): string | undefined {
  const found = findControlCharacter(text, allowed);
  if (!found) return undefined;
  const kind = CONTROLS_PROPER.test(String.fromCodePoint(Number.parseInt(found.slice(2), 16))) ? 'a control character' : 'an invisible character';
  return `contains ${kind} (${found}); ${allowed.length > 0 ? 'only line breaks and tabs are allowed' : 'it must be plain text on one line'}`;
}

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every control character written as an escape a person can read and no terminal acts
 * on (`\n`, `\x1b`, `\x9b`, `\u202e`, `\u{e0041}`), so it stays on its line, sends no escape
 * sequence (window title, clipboard, screen clearing) and neither reorders nor hides what is
 * shown. Everything else is kept, a backslash included. Idempotent.
 */
export function escapeControlCharacters(text: string): string {
  if (!ANY_UNSAFE.test(text)) return text;
  return text.replace(controlCharacters(), (character) => {
    const named = NAMED[character];
    if (named) return named;
    const code = character.codePointAt(0)!;
    if (code < 0x100) return `\\x${hex(code, 2)}`;
    return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 5)}}`;
  });
}

/**
 * A JSON text with the control characters JSON.stringify leaves raw (DEL, C1, format characters,
 * the separators) written as `\uXXXX` (surrogate pairs for astral ones): the same JSON, readable on
 * any terminal. JSON text holds such characters only inside strings, where the escape means the
 * same character; C0 outside strings (an indented document's line breaks) is left as it is.
 */
export function escapeJsonControls(json: string): string {
  if (!ANY_UNSAFE.test(json)) return json;
  return json.replace(controlCharacters(), (character) => {
    if (character < ' ') return character;
    let escaped = '';
    for (let i = 0; i < character.length; i += 1) escaped += `\\u${hex(character.charCodeAt(i), 4)}`;
    return escaped;
  });
}

/**
 * Remote text shown inline in a message (a stream name, an id): control characters escaped, at
 * most `max` characters, `…` when it was cut. For text that should read as it is when it is plain.
 */
export function excerpt(text: string, max = 80): string {
  const chars = [...text];
  return chars.length > max ? `${escapeControlCharacters(chars.slice(0, max).join(''))}…` : escapeControlCharacters(text);
}

/**
 * Remote text (an event type, a name from an archive) quoted for a message: at most `max`
 * characters, in double quotes with JSON's escapes, every control character escaped, and `…`
 * after the closing quote when it was cut. A reader always sees where the quoted text ends.
 */
export function quoted(text: string, max = 80): string {
  const chars = [...text];
  const cut = chars.length > max;
  return `${escapeJsonControls(JSON.stringify(cut ? chars.slice(0, max).join('') : text))}${cut ? '…' : ''}`;
}
