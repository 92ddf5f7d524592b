import { z } from 'zod';

/**
 * Characters that act on a terminal, a log or a text view instead of being shown as text: the C0
 * controls (ESC, BEL, backspace, carriage return, line feed and tab among them), DEL, the C1
 * controls (U+009B is a one-character CSI to many terminals), the Unicode line and paragraph
 * separators, and the bidirectional controls that make text read in another order than it is
 * stored. Names, labels and the strings of an archive refuse them (see `singleLine`); remote text
 * that reaches a log line or a message is shown with them escaped (see `escapeControlCharacters`,
 * `quoted`). This module is the one list of them.
 */
const CONTROL_CLASS = '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const CONTROLS = new RegExp(CONTROL_CLASS, 'g');
const ANY_CONTROL = new RegExp(CONTROL_CLASS);

const hex = (ch: string, digits: number) => ch.charCodeAt(0).toString(16).padStart(digits, '0');

/** `U+001B`: how messages name a character a person cannot see. */
export function codePoint(ch: string): string {
  return `U+${hex(ch, 4).toUpperCase()}`;
}

export function hasControlCharacters(text: string): boolean {
  return ANY_CONTROL.test(text);
}

/** The first control character of `text` that `allowed` does not list, named as `U+001B`. */
export function findControlCharacter(text: string, allowed: readonly string[] = []): string | undefined {
  if (!ANY_CONTROL.test(text)) return undefined;
  for (const [ch] of text.matchAll(CONTROLS)) if (!allowed.includes(ch)) return codePoint(ch);
  return undefined;
}

/** Line breaks and tabs: what a multi-line text (an app's description) may hold. */
export const LINE_BREAKS_AND_TABS: readonly string[] = ['\n', '\t'];

/**
 * Why `text` may not be stored as a name, a label or another plain text, or undefined when it may:
 * `contains a control character (U+001B)`. `allowed` lists the ones a field accepts.
 */
export function controlCharacterProblem(text: string, allowed: readonly string[] = []): string | undefined {
  const found = findControlCharacter(text, allowed);
  if (!found) return undefined;
  return `contains a control character (${found}); ${allowed.length > 0 ? 'only line breaks and tabs are allowed' : 'it must be plain text on one line'}`;
}

const refuseControls = (allowed: readonly string[]) =>
  z.superRefine<string>((value, ctx) => {
    const problem = controlCharacterProblem(value, allowed);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
  });

/** A zod check for names, labels and other one-line texts: `z.string().max(100).check(singleLine())`. */
export const singleLine = () => refuseControls([]);

/** A zod check for texts of several lines (an app's description): line breaks and tabs pass, nothing else does. */
export const multiLine = () => refuseControls(LINE_BREAKS_AND_TABS);

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every control character written out (`\n`, `\x1b`, `\u202e`), so it stays on its
 * line and changes nothing on a screen. For text logs; a backslash is left as it is.
 */
export function escapeControlCharacters(text: string): string {
  if (!ANY_CONTROL.test(text)) return text;
  return text.replace(CONTROLS, (ch) => NAMED[ch] ?? (ch.charCodeAt(0) < 0x100 ? `\\x${hex(ch, 2)}` : `\\u${hex(ch, 4)}`));
}

/**
 * A JSON text with the control characters JSON.stringify leaves raw (DEL, C1, the separators and
 * bidirectional controls) written as `\uXXXX`: the same JSON, readable on any terminal. JSON text
 * holds such characters only inside strings, where the escape means the same character.
 */
export function escapeJsonControls(json: string): string {
  if (!ANY_CONTROL.test(json)) return json;
  return json.replace(CONTROLS, (ch) => `\\u${hex(ch, 4)}`);
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
