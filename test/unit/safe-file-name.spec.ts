import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultFileName } from '../../src/cli/commands/backup.command.js';
import type { Backup } from '../../src/contract/backups.schemas.js';
import { CliError } from '../../src/cli/exit-codes.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { fileInFolder, MAX_NAME_BYTES, safeFileName } from '../../src/cli/safe-file-name.js';

/** What a safe name never holds: separators, Windows' refused characters, controls, bidi and other format characters. */
const UNSAFE = /[/\\:*?"<>|\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;

describe('safe file names from remote text', () => {
  const cases: [string, string, string][] = [
    ['a plain name stays', 'backup-shop-2026-01-02_03-04-05.zip', 'backup-shop-2026-01-02_03-04-05.zip'],
    ['parent folders', '../../../../x', '_x'],
    ['just ..', '..', ''],
    ['just .', '.', ''],
    ['an absolute path', '/etc/passwd', '_etc_passwd'],
    ['Windows separators and a drive', 'C:\\Windows\\system32', 'C_Windows_system32'],
    ['a hidden file', '.bashrc', 'bashrc'],
    ['dots in the middle', 'a..b...c.zip', 'a_b_c.zip'],
    ['trailing dots and spaces (Windows drops them)', 'name. . ', 'name'],
    ['characters Windows refuses', 'a<b>c:d"e|f?g*h', 'a_b_c_d_e_f_g_h'],
    ['an escape sequence', 'x\x1b]0;pwned\x07y', 'x_]0;pwned_y'],
    ['C1 CSI and DEL', 'a\u009b2Jb\x7f', 'a_2Jb_'],
    ['a bidi override that would show "gpj.exe" as "exe.jpg"', 'photo\u202egpj.exe', 'photo_gpj.exe'],
    ['newlines', 'one\ntwo', 'one_two'],
    ['a Windows device name', 'CON', '_CON'],
    ['a Windows device name with an extension', 'nul.zip', '_nul.zip'],
    ['empty', '', ''],
    ['only what is refused', '\x1b\x07/..', ''],
    ['letters of any script stay', 'été-東京', 'été-東京'],
  ];

  it.each(cases)('%s', (_name, raw, safe) => {
    expect(safeFileName(raw)).toBe(safe);
    expect(UNSAFE.test(safeFileName(raw))).toBe(false);
  });

  it('cuts long names to the byte limit on a character boundary, keeping the extension', () => {
    const long = `${'é'.repeat(200)}.zip`;
    const cut = safeFileName(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(cut).toMatch(/^é+\.zip$/);
    expect(Buffer.byteLength(cut)).toBeGreaterThan(MAX_NAME_BYTES - 4);
    // Four-byte characters are never split into a half that decodes as U+FFFD.
    const emoji = safeFileName(`${'😀'.repeat(100)}.zip`);
    expect(emoji).toMatch(/^(😀)+\.zip$/u);
    expect(Buffer.byteLength(emoji)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(safeFileName('x'.repeat(500), 10)).toBe('x'.repeat(10));
  });

  it('names a backup as the server would, made safe, and falls back to its id when the app name leaves nothing', () => {
    const backup = (appName: string, created = '2026-01-02T03:04:05.678Z') => ({ id: '3f2a9c1b-0000-4000-8000-000000000001', appName, created }) as Backup;
    expect(defaultFileName(backup('shop'))).toBe('backup-shop-2026-01-02_03-04-05.zip');
    expect(defaultFileName(backup('../../../../x'))).toBe('backup-_x-2026-01-02_03-04-05.zip');
    expect(defaultFileName(backup('/etc/passwd'))).toBe('backup-_etc_passwd-2026-01-02_03-04-05.zip');
    for (const empty of ['', '..', '.', '\x1b', '///']) expect(defaultFileName(backup(empty))).toBe('backup-3f2a9c1b-0000-4000-8000-000000000001.zip');
    expect(defaultFileName(backup('shop', '../../etc/x'))).toBe('backup-shop-_etc_x.zip');
    const long = defaultFileName(backup('a'.repeat(5000)));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    // The time survives a long app name: two backups of one app get two names.
    expect(long).toMatch(/^backup-a+-2026-01-02_03-04-05\.zip$/);
  });

  it('places a name directly inside its folder, and refuses one that would leave it', () => {
    const folder = resolve('/tmp/downloads');
    expect(fileInFolder(folder, 'backup-shop.zip')).toBe(join(folder, 'backup-shop.zip'));
    for (const bad of ['../x.zip', 'a/b.zip', '/etc/passwd', '..', '.', '']) {
      const refused = (() => {
        try {
          fileInFolder(folder, bad);
          return undefined;
        } catch (error) {
          return error;
        }
      })();
      expect(refused, bad).toBeInstanceOf(CliError);
      expect((refused as CliError).exitCode).toBe(ExitCode.usage);
    }
  });
});
