/**
 * How the CLI shows text it did not write itself (a server's names, labels, phases and messages,
 * an archive's users, warnings and what its checks quote) on a terminal, and which characters a
 * file name made from such text must not keep. Output (output.ts) passes every line it writes
 * through here, so no command can print remote text raw.
 *
 * The characters: controls (C0 with newline and tab, DEL, C1, so ESC and CSI and every escape
 * sequence they start), format characters (bidirectional overrides and isolates, zero-width
 * spaces, the BOM, invisible tag letters), line and paragraph separators, and unpaired surrogates.
 * The zero-width joiner and non-joiner stay: emoji and several scripts need them, and they neither
 * move nor hide text. This is wider than what the server refuses in names
 * (platform/text/control-characters.ts): a terminal is also fooled by invisible text that a label
 * may legitimately hold. It is kept here, free of zod, so the CLI starts without loading it.
 */
const UNSAFE_SOURCE = '(?![\\u200c\\u200d])[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}]';

/** A fresh global pattern for `replace` (a shared one would carry `lastIndex` between calls). */
export const unsafeCharacters = () => new RegExp(UNSAFE_SOURCE, 'gu');

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

/**
 * One line for a terminal: every unsafe character written as an escape a person can read and no
 * terminal acts on (`\n`, `\x1b`, `\x9b`, `\u202e`, `\u{e0041}`), so text from elsewhere can
 * neither send an escape sequence (window title, clipboard, screen clearing), nor start a line of
 * its own, nor reorder or hide what is shown. Everything else is kept, a backslash included.
 * Idempotent: an escaped line has nothing left to escape.
 */
export function terminalLine(text: string): string {
  return text.replace(unsafeCharacters(), (character) => {
    const short = SHORT[character];
    if (short) return short;
    const code = character.codePointAt(0)!;
    if (code < 0x100) return `\\x${hex(code, 2)}`;
    return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 5)}}`;
  });
}

/**
 * `value` as JSON (indented) that parses back to exactly `value` and carries none of the
 * characters a terminal acts on: JSON.stringify escapes C0 and lone surrogates, but writes DEL,
 * C1 (CSI is U+009B), format characters and U+2028/2029 as they are; those are written as
 * `\uXXXX` escapes here. They can only stand inside strings, so the document means the same.
 */
export function terminalJson(value: unknown): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(unsafeCharacters(), (character) => {
    // C0 in strings is escaped by JSON.stringify already: what is left is the indentation's line breaks.
    if (character < ' ') return character;
    let escaped = '';
    for (let i = 0; i < character.length; i += 1) escaped += `\\u${hex(character.charCodeAt(i), 4)}`;
    return escaped;
  });
}
