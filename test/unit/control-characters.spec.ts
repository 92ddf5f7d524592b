import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { controlCharacterProblem, escapeControlCharacters, escapeJsonControls, excerpt, quoted } from '../../src/platform/text/control-characters.js';
import { multiLine, singleLine } from '../../src/platform/text/plain-text.checks.js';

/** One of each kind: C0 (ESC, BEL, NUL, CR, LF, TAB), DEL, C1 (CSI, NEL), bidi overrides and isolates, separators. */
const HOSTILE = ['\u001b', '\u0007', '\u0000', '\r', '\n', '\t', '\u007f', '\u009b', '\u0085', '\u202e', '\u2066', '\u200f', '\u061c', '\u2028', '\u2029'];

describe('control characters', () => {
  it('names the first one a field does not allow, by code point', () => {
    expect(controlCharacterProblem('Shop \u001b]0;pwned\u0007')).toBe('contains a control character (U+001B); it must be plain text on one line');
    expect(controlCharacterProblem('line one\nline two\tand a tab', ['\n', '\t'])).toBeUndefined();
    expect(controlCharacterProblem('ok\nthen \u202e', ['\n', '\t'])).toBe('contains a control character (U+202E); only line breaks and tabs are allowed');
    for (const ch of HOSTILE) expect(controlCharacterProblem(`a${ch}b`), JSON.stringify(ch)).toMatch(/^contains a control character \(U\+[0-9A-F]{4}\)/);
    // Letters of every script, emoji (with their joiners) and plain punctuation are text.
    // Invisible format characters, the BOM, tag letters and lone surrogates hide or reorder text too.
    for (const ch of ['\u200b', '\ufeff', '\u{e0041}', '\ud800', '\u00ad']) expect(controlCharacterProblem(`a${ch}b`), JSON.stringify(ch)).toMatch(/^contains an invisible character \(U\+[0-9A-F]{4,5}\)/);
    for (const text of ['Café Ünïcode', '日本語のアプリ', 'שלום', '👩‍💻 dev', 'a\\nb', 'tab-less "quotes" & <tags>']) expect(controlCharacterProblem(text), text).toBeUndefined();
  });

  it('refuses them in zod schemas with a message a 400 can carry', () => {
    const body = z.strictObject({ label: z.string().max(100).check(singleLine()), description: z.string().check(multiLine()) });
    const result = body.safeParse({ label: 'x\u009b2J', description: 'fine\nmultiline\ttext' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['label: contains a control character (U+009B); it must be plain text on one line']);
    expect(body.safeParse({ label: 'plain', description: 'a\r\nb' }).error?.issues[0]?.message).toMatch(/U\+000D.*only line breaks and tabs/);
    expect(body.safeParse({ label: 'plain', description: 'a\nb' }).success).toBe(true);
  });

  it('escapes every one of them for a log line, leaving the line whole', () => {
    const escaped = escapeControlCharacters(`x${HOSTILE.join('')}y`);
    expect(escaped).toBe('x\\x1b\\x07\\x00\\r\\n\\t\\x7f\\x9b\\x85\\u202e\\u2066\\u200f\\u061c\\u2028\\u2029y');
    expect(escaped).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(escapeControlCharacters('plain text stays as it is')).toBe('plain text stays as it is');
  });

  it('quotes remote text so its end is plain to see, cut to a length', () => {
    expect(quoted('AppUpdated')).toBe('"AppUpdated"');
    expect(quoted('x\u001b[2J\n\u009b\u202e')).toBe('"x\\u001b[2J\\n\\u009b\\u202e"');
    expect(quoted('a"b')).toBe('"a\\"b"');
    expect(quoted('abcdef', 3)).toBe('"abc"…');
    expect(excerpt('app-1', 10)).toBe('app-1');
    expect(excerpt('app-\n[Nest]', 6)).toBe('app-\\n[…');
  });

  it('keeps JSON valid and equal while escaping what JSON.stringify leaves raw', () => {
    const value = { message: `a\u009bb\u202ec\u2028d\u007fe\u001bf` };
    const json = escapeJsonControls(JSON.stringify(value));
    expect(json).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(JSON.parse(json)).toEqual(value);
  });
});
