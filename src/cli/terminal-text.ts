import { escapeUnsafe, unsafeCharacters } from '../platform/unsafe-characters.js';

/**
 * How the CLI shows text it did not write itself (a server's names, labels, phases and messages,
 * an archive's users, types and file names) on a terminal. Output (output.ts) is the only caller:
 * commands hand it lines, and it passes every line through here, so no command can print remote
 * text raw.
 */

/**
 * One line for a terminal: every control, format and separator character escaped (`\x1b`, `\n`,
 * `\u202e`), so text from elsewhere can neither send an escape sequence (window title, clipboard,
 * screen clearing), nor start a line of its own, nor reorder what is shown. Idempotent: an
 * escaped line has nothing left to escape.
 */
export const terminalLine = (text: string): string => escapeUnsafe(text);

const unicodeEscape = (unit: number) => `\\u${unit.toString(16).padStart(4, '0')}`;

/**
 * `value` as JSON (indented) that parses back to exactly `value` and carries none of the
 * characters a terminal acts on: JSON.stringify escapes C0 and lone surrogates, but writes DEL,
 * C1 (CSI is U+009B), bidirectional controls and U+2028/2029 as they are; those are written as
 * `\uXXXX` escapes here. They can only stand inside strings, so the document means the same.
 */
export function terminalJson(value: unknown): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(unsafeCharacters(), (character) => {
    // C0 in strings is escaped by JSON.stringify already: what is left is the indentation's line breaks.
    if (character < ' ') return character;
    let escaped = '';
    for (let i = 0; i < character.length; i += 1) escaped += unicodeEscape(character.charCodeAt(i));
    return escaped;
  });
}
