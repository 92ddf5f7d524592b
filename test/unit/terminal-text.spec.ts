import { describe, expect, it } from 'vitest';
import { Output, table } from '../../src/cli/output.js';
import { terminalJson, terminalLine } from '../../src/cli/terminal-text.js';

/** Every character a terminal may act on or that moves, hides or splits text. */
const RAW = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\u{e0000}-\u{e007f}]|[\ud800-\udfff]/u;

describe('terminal text: remote text escaped for a terminal', () => {
  const cases: [string, string, string][] = [
    ['plain text stays as it is', 'shop-2 (a label: «été» 😀)', 'shop-2 (a label: «été» 😀)'],
    ['ESC of a CSI sequence (screen clear)', 'a\x1b[2Jb', 'a\\x1b[2Jb'],
    ['OSC 0 window title ended by BEL', '\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
    ['OSC 52 clipboard write ended by ST', '\x1b]52;c;ZWNobyBoaQ==\x1b\\', '\\x1b]52;c;ZWNobyBoaQ==\\x1b\\'],
    ['C1 CSI (U+009B) and NEL (U+0085)', 'x\u009b31my\u0085z', 'x\\x9b31my\\x85z'],
    ['DEL and NUL', 'a\x7fb\x00c', 'a\\x7fb\\x00c'],
    ['newline, carriage return and tab in a one-line field', 'one\ntwo\rthree\tfour', 'one\\ntwo\\rthree\\tfour'],
    ['bidi override and isolates', 'txt.\u202eexe\u2066x\u2069', 'txt.\\u202eexe\\u2066x\\u2069'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['zero-width space, marks and BOM', 'a\u200bb\u200ec\u200fd\ufeff', 'a\\u200bb\\u200ec\\u200fd\\ufeff'],
    ['invisible tag letters (outside the BMP)', 'hi\u{e0041}\u{e0042}', 'hi\\u{e0041}\\u{e0042}'],
    ['an unpaired surrogate', 'a\ud800b', 'a\\ud800b'],
    ['joiners that emoji and scripts need are kept', '👨\u200d👩\u200d👧 \u0645\u200c\u0631', '👨\u200d👩\u200d👧 \u0645\u200c\u0631'],
  ];

  it.each(cases)('%s', (_name, raw, shown) => {
    expect(terminalLine(raw)).toBe(shown);
    expect(RAW.test(terminalLine(raw))).toBe(false);
    // Escaping twice changes nothing: an escaped line has nothing left to escape.
    expect(terminalLine(terminalLine(raw))).toBe(shown);
  });

  it('gives the same answer on every call (no global pattern carrying lastIndex between them)', () => {
    expect([1, 2, 3].map(() => terminalLine('a\nb'))).toEqual(['a\\nb', 'a\\nb', 'a\\nb']);
  });

  it('writes JSON that parses back to exactly the value, with no raw character a terminal acts on', () => {
    const value = { name: '\x1b]0;pwned\x07', label: 'x\u009b2J\x7f', phase: 'a\u202eb\u2028c\u{e0041}', lone: 'a\ud800b', nested: [{ n: 'é😀\u200d' }] };
    const text = terminalJson(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(RAW.test(text.replaceAll('\n', ''))).toBe(false);
    expect(text).toContain('\\u009b');
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\udb40\\udc41');
    // Indented as before: the layout's own line breaks are kept.
    expect(text).toBe(JSON.stringify(value, null, 2).replace('\u009b', '\\u009b').replace('\x7f', '\\u007f').replace('\u202e', '\\u202e').replace('\u2028', '\\u2028').replace('\u{e0041}', '\\udb40\\udc41'));
  });

  it('pads table columns by the escaped cells, so a hostile cell cannot shift the others', () => {
    const lines = table(['NAME', 'ID'], [['a\x1bb', '1'], ['plain', '2']]);
    expect(lines).toEqual(['NAME    ID', 'a\\x1bb  1', 'plain   2']);
  });

  describe('Output', () => {
    const capture = () => {
      const written: string[] = [];
      return { written, stream: { write: (text: string) => written.push(text) } };
    };

    it('escapes every line of a result, note, progress and error; the layout keeps its own lines', () => {
      const stdout = capture();
      const stderr = capture();
      const output = new Output(false, false, stdout.stream, stderr.stream);
      output.result({ ignored: true }, () => ['Backup of app \x1b]0;t\x07', '  label:    two\nlines']);
      output.note('note \x1b[2J');
      const progress = output.progress('download \u009bx', { step: 0 });
      progress.update({ phase: 'phase\x1b[31m\nforged line', done: 1, total: 2, unit: 'ev\x07ents' });
      progress.note('resuming \u202e');
      progress.stop();
      output.error('the server said \x1b]52;c;AAAA\x07');
      expect(stdout.written.join('')).toBe('Backup of app \\x1b]0;t\\x07\n  label:    two\\nlines\n');
      expect(stderr.written.join('')).toBe(
        ['note \\x1b[2J', 'download \\x9bx: phase\\x1b[31m\\nforged line 1/2 ev\\x07ents (50%)', 'download \\x9bx: resuming \\u202e', 'appvault: the server said \\x1b]52;c;AAAA\\x07', ''].join('\n'),
      );
    });

    it('with --json writes the value exactly, and nothing of the human lines', () => {
      const stdout = capture();
      const output = new Output(true, false, stdout.stream, capture().stream);
      const value = { appName: '../x\x1b[2J\u009b' };
      output.result(value, ['not shown']);
      expect(JSON.parse(stdout.written.join(''))).toEqual(value);
      expect(stdout.written.join('')).not.toContain('not shown');
      expect(RAW.test(stdout.written.join('').replaceAll('\n', ''))).toBe(false);
    });
  });
});
