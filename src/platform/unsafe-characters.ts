/**
 * Characters that text from elsewhere (a server, an archive, a request) must not carry as they are
 * into a terminal, a log line or a file name: controls (C0 with newline and tab, DEL, C1, so every
 * escape sequence, which starts with ESC or CSI), format characters (bidirectional overrides and
 * isolates, zero-width spaces, invisible tag letters), line and paragraph separators, and unpaired
 * surrogates. The zero-width joiner and non-joiner are left alone: emoji and several scripts need
 * them, and they neither move nor hide text.
 */
const UNSAFE_SOURCE = '(?![\\u200c\\u200d])[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}]';

/** A fresh global pattern for `replace` (a shared one would carry `lastIndex` between calls). */
export const unsafeCharacters = () => new RegExp(UNSAFE_SOURCE, 'gu');

const ANY_UNSAFE = new RegExp(UNSAFE_SOURCE, 'u');

export const hasUnsafeCharacters = (text: string) => ANY_UNSAFE.test(text);

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

/**
 * `text` with each unsafe character written as an escape a person can read and no terminal acts
 * on: `\n`, `\x1b`, `\x9b`, `\u202e`, `\u{e0041}`. Everything else is kept as it is.
 */
export function escapeUnsafe(text: string): string {
  return text.replace(unsafeCharacters(), (character) => {
    const short = SHORT[character];
    if (short) return short;
    const code = character.codePointAt(0)!;
    if (code < 0x100) return `\\x${hex(code, 2)}`;
    return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 5)}}`;
  });
}
