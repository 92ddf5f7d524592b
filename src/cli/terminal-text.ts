import { escapeControlCharacters, escapeJsonControls } from '../platform/text/control-characters.js';

/**
 * How the CLI shows text it did not write itself (a server's names, labels, phases and messages,
 * an archive's users, warnings and what its checks quote) on a terminal. Output (output.ts) passes
 * every line it writes through here, so no command can print remote text raw. Which characters
 * count, and how they are written, is platform/text/control-characters.ts: the same list the
 * server refuses in names and escapes in its logs.
 */

/**
 * One line for a terminal: every control character escaped (`\n`, `\x1b`, `\x9b`, `\u202e`), so
 * text from elsewhere can neither send an escape sequence (window title, clipboard, screen
 * clearing), nor start a line of its own, nor reorder or hide what is shown. Idempotent.
 */
export const terminalLine = (text: string): string => escapeControlCharacters(text);

/**
 * `value` as JSON (indented) that parses back to exactly `value` and carries none of the
 * characters a terminal acts on: JSON.stringify escapes C0 and lone surrogates, and what it leaves
 * raw (DEL, C1, format characters, U+2028/2029) is written as `\uXXXX`.
 */
export const terminalJson = (value: unknown): string => escapeJsonControls(JSON.stringify(value, null, 2) ?? 'null');
